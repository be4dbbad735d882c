"""The constraint engine the association rules are written in.

Three node kinds, with the semantics of jwst 3.0's association constraints (facts from
jwst/associations/lib/constraint.py; this is an independent, compact implementation):

- ``Attr``: a pool column (first of ``sources`` holding a defined value) must match ``value``
  (regular expressions, full match, case-insensitive).  With ``force_unique`` the first value
  seen becomes the required value for every later member.  A list-valued column (evaluated
  with ``literal_eval``) splits the item into one copy per value, queued for reprocessing.
- ``Simple``: a Python predicate on the item (``test(value, sources(item))``).
- ``Group``: children reduced with all / any / notany / notall.

Every check returns ``(matched, reprocess)`` where ``reprocess`` is a list of ``Requeue``
(items to run through the generator again, restricted to some rules and to existing or new
associations).  An association preserves the state before each check and restores it when
the item does not match, so a failed check leaves no trace.
"""

from __future__ import annotations

import re
from ast import literal_eval
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Callable

# Values that mean "attribute not given" (jwst dms_base._EMPTY).
EMPTY = (None, "", "NULL", "Null", "null", "--", "N", "n", "F", "f", "FALSE", "false", "False",
         "N/A", "n/a")


class Over(IntEnum):
    """What a requeued item may do (jwst ListCategory): in priority order."""

    RULES = 0        # only create new associations
    BOTH = 1         # join existing ones and create new ones
    EXISTING = 2     # only join existing associations
    NONSCIENCE = 3   # only join existing associations (target acquisitions etc.)


@dataclass
class Requeue:
    """Items to process again, restricted to ``rules`` (None or empty: every rule)."""

    items: list
    rules: list | None = None
    over: Over = Over.BOTH
    only_on_match: bool = False

    @property
    def key(self):
        return (tuple(id(r) for r in (self.rules or [])), self.over, self.only_on_match)


def evaluate(value):
    """``literal_eval`` the string if possible, else return it unchanged."""
    try:
        return literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def is_listlike(obj) -> bool:
    """A list/set-like container (strings and tuples are scalars, as in jwst)."""
    return not isinstance(obj, (str, tuple)) and hasattr(obj, "__iter__")


def meets(value: str, conditions) -> bool:
    """Does ``value`` fully match one of the regular expressions (case-insensitive)?"""
    conds = conditions if is_listlike(conditions) else [conditions]
    return any(re.match(f"^{c}$", value, flags=re.IGNORECASE) for c in conds)


def lookup(item: dict, sources, invalid=EMPTY) -> tuple[str, Any]:
    """(column, value) of the first source with a defined value; KeyError when none."""
    for src in sources:
        if src in item and item[src] not in invalid:
            return src, item[src]
    raise KeyError(f"none of {sources} defined")


class _Leaf:
    """State shared by the leaf kinds: a dict that can be saved and restored."""

    kind = "leaf"

    def __init__(self, name, value, force_unique):
        self.st = {"value": value, "force_unique": force_unique, "found": set(),
                   "matched": False}
        self.name = name
        self._history: list[dict] = []

    @property
    def value(self):
        return self.st["value"]

    @property
    def found(self) -> set:
        return self.st["found"]

    @property
    def matched(self) -> bool:
        return self.st["matched"]

    def preserve(self):
        saved = dict(self.st)
        saved["found"] = set(self.st["found"])
        self._history.append(saved)

    def restore(self):
        if self._history:
            self.st = self._history.pop()

    def leaves(self):
        yield self

    def find(self, name):
        return None

    def describe(self) -> str:
        value = self.st["value"]
        shown = "<computed per item>" if callable(value) else repr(value)
        return f"{self.kind}({self.name}={shown})"


class Attr(_Leaf):
    """A pool-column constraint (see module docstring)."""

    kind = "attr"

    def __init__(self, name=None, sources=(), value=None, force_unique=True, required=True,
                 force_undefined=False, evaluate=False, onlyif=None, force_reprocess=None,
                 only_on_match=False, invalid=EMPTY, is_acid=False):
        super().__init__(name, value, force_unique)
        self.st["sources"] = list(sources)
        self.required, self.force_undefined, self.evaluate = required, force_undefined, evaluate
        self.onlyif, self.force_reprocess = onlyif, force_reprocess
        self.only_on_match, self.invalid, self.is_acid = only_on_match, invalid, is_acid

    def _requeue(self, item):
        return Requeue([item], None, self.force_reprocess, self.only_on_match)

    def check(self, item):
        st = self.st
        if self.onlyif is not None and not self.onlyif(item):
            st["matched"] = True
            return True, ([self._requeue(item)] if self.force_reprocess is not None else [])
        try:
            source, raw = lookup(item, st["sources"], self.invalid)
        except KeyError:
            st["matched"] = not (self.required and not self.force_undefined)
            return st["matched"], []
        if self.force_undefined:
            st["matched"] = False
            return False, []
        evaled = evaluate(raw) if self.evaluate else raw
        reprocess = []
        if st["value"] is None:
            if is_listlike(evaled):          # one copy of the item per value, none matches now
                st["matched"] = False
                return False, [_split(item, source, evaled)]
            value = str(evaled)
        else:
            want = st["value"]() if callable(st["value"]) else st["value"]
            values = list(evaled) if is_listlike(evaled) else [evaled]
            hit = next((v for v in values if meets(str(v), want)), _MISSING)
            if hit is _MISSING:
                st["matched"] = False
                return False, []
            value = str(hit)
            others = [v for v in values if v != hit]
            if others:
                reprocess.append(_split(item, source, others))
        escaped = re.escape(value)
        st["found"].add(escaped)
        if st["force_unique"]:
            st["value"], st["sources"], st["force_unique"] = escaped, [source], False
        if self.force_reprocess is not None:
            reprocess.append(self._requeue(item))
        st["matched"] = True
        return True, reprocess


_MISSING = object()


def _split(item, source, values) -> Requeue:
    """One copy of ``item`` per value of a list-valued column."""
    copies = []
    for v in values:
        c = dict(item)
        c[source] = str(v)
        copies.append(c)
    return Requeue(copies)


def _eq(a, b):
    return a == b


class Simple(_Leaf):
    """A predicate constraint: ``test(value, sources(item))`` (default: equality)."""

    kind = "simple"

    def __init__(self, name=None, value=None, sources: Callable | None = None,
                 test: Callable | None = None, force_unique=True, reprocess_on_match=False,
                 reprocess_on_fail=False, over=Over.BOTH, reprocess_rules=None):
        super().__init__(name, value, force_unique)
        self.sources = sources or (lambda item: item)
        self.test = test or _eq
        self.on_match, self.on_fail = reprocess_on_match, reprocess_on_fail
        self.over, self.reprocess_rules = over, reprocess_rules

    def check(self, item):
        st = self.st
        got = self.sources(item)
        ok = True if st["value"] is None else bool(self.test(st["value"], got))
        st["matched"] = ok
        if ok:
            if st["force_unique"]:
                st["value"] = got
            st["found"].add(st["value"])
        if (ok and self.on_match) or (not ok and self.on_fail):
            return ok, [Requeue([item], self.reprocess_rules, self.over)]
        return ok, []


class Group:
    """Children reduced with ``all`` (default), ``any``, ``notany`` or ``notall``."""

    def __init__(self, children, reduce="all", name=None, reprocess_on_match=False,
                 reprocess_on_fail=False, over=Over.BOTH, reprocess_rules=None):
        self.children = list(children)
        self.reduce, self.name = reduce, name
        self.on_match, self.on_fail = reprocess_on_match, reprocess_on_fail
        self.over, self.reprocess_rules = over, reprocess_rules
        self.matched = False

    def check(self, item):
        if self.reduce in ("all", "notall"):
            ok, reprocess = _all(item, self.children)
        else:
            ok, reprocess = _any(item, self.children)
        if self.reduce.startswith("not"):
            ok = not ok
        self.matched = ok
        if (ok and self.on_match) or (not ok and self.on_fail):
            reprocess = reprocess + [Requeue([item], self.reprocess_rules, self.over)]
        return ok, reprocess

    def append(self, node):
        self.children.append(node)

    def preserve(self):
        for c in self.children:
            c.preserve()

    def restore(self):
        for c in self.children:
            c.restore()

    def leaves(self):
        for c in self.children:
            yield from c.leaves()

    def find(self, name):
        """First node called ``name``, depth first (children before grandchildren)."""
        for c in self.children:
            if c.name == name:
                return c
            hit = c.find(name)
            if hit is not None:
                return hit
        return None

    def __getitem__(self, name):
        hit = self.find(name)
        if hit is None:
            raise KeyError(name)
        return hit

    def describe(self) -> str:
        return "\n".join(leaf.describe() for leaf in self.leaves() if leaf.name is not None)


def _all(item, children):
    """All must match; a failing child with requeues keeps evaluating (jwst semantics)."""
    if not children:
        return False, []
    ok, collected, negative = True, [], None
    for c in children:
        m, rep = c.check(item)
        if m:
            if ok:
                collected.extend(rep)
        else:
            ok = False
            if not rep:
                negative = None
                break
            if negative is None:
                negative = list(rep)
    if not ok:
        return False, (negative or [])
    return True, collected


def _any(item, children):
    if not children:
        return False, []
    collected, m = [], False
    for c in children:
        m, rep = c.check(item)
        if m:
            return True, list(rep)
        collected.extend(rep)
    return m, collected
