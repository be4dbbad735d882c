"""The stream's association buffer: collects level-2 products per level-3 candidate and says
when stage 3 can run.

Pure Python with an injected clock; the stream keeps its state in the ledger
(:class:`streamcal.associations.store.AssociationStore`), tests and benchmarks in memory.
Grouping uses the same level-3 rules as ``streamcal associations`` (a pool row is built from
each ``_cal`` header).  Expected members come from an ASN file dropped into the landing
directory when there is one (matched by exposure root, suffix ignored), else from the headers:
per detector, NEXPOSUR exposures when given (and at least NUMDTHPT), else NUMDTHPT dither
points, times the detectors seen.  A candidate fires complete once that many are in; if more
exposures of it arrive afterwards than the headers announced, or new content of one of its
members, it fires again (the product is remade), as a partial product is remade when its
missing members land.

Incremental grouping
--------------------
jwst's generator (:func:`~streamcal.associations.generator.generate_pool` without discovery,
as here) runs the rules once per ASN_CANDIDATE id over the rows whose ASN_CANDIDATE text
contains that id; finalization then prunes only associations that share members or product
names, and product names carry the id.  So rows fall into *buckets* (program, ASN_CANDIDATE
text), and a new row can change only the associations of the buckets linked to its own by
"an id of one occurs in the text of the other" (transitively; :func:`linked_buckets`).
Regenerating just those rows gives exactly the associations a regeneration of the whole
program gives for them, and the work per product is bounded by the size of its observation
(the stream's rows carry one candidate, ``[('oNNN', 'observation')]``), not by history.

State lives behind :class:`AssociationState`: :class:`MemoryState` here (plain JSON via
:meth:`AssociationBuffer.to_dict`), the ledger's SQLite tables in
:mod:`streamcal.associations.store`.  Every lookup is by key, never a scan of history.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import PurePath
from typing import Protocol

from .asn import to_dict
from .generator import Options, candidates_by_type, generate_pool
from .members import remove_suffix
from .pool import pool_row

__all__ = ["COMPLETE", "NOT_FIRED", "PARTIAL", "SOURCE_ASN", "SOURCE_HEADERS", "AssociationBuffer",
           "AssociationState", "Candidate", "Firing", "Member", "MemoryState", "exposure_root",
           "linked_buckets"]

NOT_FIRED, PARTIAL, COMPLETE = "none", "partial", "complete"
SOURCE_HEADERS, SOURCE_ASN = "headers", "asn"


@dataclass(frozen=True)
class Firing:
    """A level-3 product to (re)make.

    Attributes
    ----------
    asn : dict
        Its ASN (one product; members present so far).
    product : str
        Product name.
    members : tuple of str
        Paths of the member ``_cal`` files, in ASN order.
    partial : bool
        Members are missing (the product is then marked partial).
    member_ids : tuple of int
        Ledger file ids of ``members`` (those known: given with the member).
    declared_members : tuple of dict
        The member list of the ASN file that declared the candidate (empty when its members
        come from headers): a partial product still names its missing members.
    """

    asn: dict
    product: str
    members: tuple[str, ...]
    partial: bool
    member_ids: tuple[int, ...] = ()
    declared_members: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A level-3 candidate as the buffer tracks it.

    Attributes
    ----------
    product : str
        Product name.
    source : {"headers", "asn"}
        Where the expected members come from.
    expected_roots : tuple of str
        The declared science members' exposure roots (source "asn").
    expected_count : int
        Members the headers announce (source "headers").
    have : tuple of str
        Exposure roots grouped into it so far, sorted (source "headers"; never shrinks).
    since : float
        Clock time (s) it was first seen: the late-member timeout runs from here.
    fired : {"none", "partial", "complete"}
        How it last fired.
    fired_with : tuple of str
        Exposure roots of its last firing.
    asn : dict or None
        Its ASN: the declared one, or the generator's.
    """

    product: str
    source: str
    expected_roots: tuple[str, ...]
    expected_count: int
    have: tuple[str, ...]
    since: float
    fired: str
    fired_with: tuple[str, ...]
    asn: dict | None


@dataclass(frozen=True)
class Member:
    """A level-2 product the buffer holds: its path, how many exposures per detector its
    header announces, and its ledger file id (None when not given)."""

    root: str
    path: str
    per_detector: int
    file_id: int | None = None


class AssociationState(Protocol):
    """Where the buffer keeps its state; every method is a keyed lookup or write."""

    def member(self, root: str) -> Member | None:
        """The member with this exposure root, or None."""

    def put_member(self, member: Member) -> None:
        """Add or replace a member (by root)."""

    def put_row(self, program: str, root: str, bucket: str, row: dict) -> str | None:
        """Store the pool row of ``root`` in ``program`` as the newest row (moving it to the
        end of the arrival order); returns the bucket it was in before, or None."""

    def buckets(self, program: str) -> list[str]:
        """Every bucket (ASN_CANDIDATE text) of the program."""

    def rows(self, program: str, buckets: Iterable[str]) -> list[dict]:
        """The pool rows of those buckets of the program, in arrival order."""

    def candidate(self, product: str) -> Candidate | None:
        """The candidate of this product, or None."""

    def put_candidate(self, cand: Candidate) -> None:
        """Add or replace a candidate (by product)."""

    def expecting(self, root: str) -> set[str]:
        """Products of ASN-declared candidates that expect ``root``."""

    def fired_with(self, root: str) -> set[str]:
        """Products whose last firing included ``root``."""

    def unfired(self) -> list[Candidate]:
        """Candidates that never fired, oldest first."""

    def candidates(self) -> list[Candidate]:
        """Every candidate, oldest first."""


def exposure_root(name: str) -> str:
    """``.../jw..._nrca1_cal.fits`` -> ``jw..._nrca1`` (the key members are matched on)."""
    return remove_suffix(PurePath(name).stem)


def _int(value, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


@functools.lru_cache(maxsize=4096)
def _bucket_ids(bucket: str) -> tuple[str, ...]:
    """The candidate ids an ASN_CANDIDATE text names (cached: a program's few texts recur)."""
    return tuple(cid for ids in candidates_by_type([{"asn_candidate": bucket}]).values() for cid in ids)


def linked_buckets(buckets: Iterable[str], starts: Iterable[str]) -> list[str]:
    """The buckets that can share an association with ``starts``: the transitive closure of
    "an id of one occurs in the other's text" (the generator takes a candidate's rows by
    substring, so ``o100`` also takes the rows of ``o1000``).  Order of ``buckets`` kept.

    Parameters
    ----------
    buckets : iterable of str
        ASN_CANDIDATE texts of one program.
    starts : iterable of str
        The texts that changed.
    """
    buckets = list(buckets)
    seen, todo = set(starts), list(starts)
    while todo:
        here = todo.pop()
        for other in buckets:
            if other not in seen and (any(c in other for c in _bucket_ids(here))
                                      or any(c in here for c in _bucket_ids(other))):
                seen.add(other)
                todo.append(other)
    return [b for b in buckets if b in seen]


class AssociationBuffer:
    """See the module docstring.

    Parameters
    ----------
    late_member_timeout : float
        Seconds a candidate may wait, from its first member, before it fires with what it has.
    clock : callable
        Returns seconds.
    state : AssociationState, optional
        Where the state lives; a new :class:`MemoryState` by default.
    """

    def __init__(self, late_member_timeout: float = 600.0,
                 clock: Callable[[], float] = time.monotonic, state: AssociationState | None = None):
        self.timeout = float(late_member_timeout)
        self.clock = clock
        self.state: AssociationState = MemoryState() if state is None else state

    # ---- input ---------------------------------------------------------------------------
    def add(self, path: str, header, replaced: bool = False, file_id: int | None = None) -> list[Firing]:
        """A level-2 product arrived: ``path`` of the ``_cal`` file and its primary header;
        ``replaced``: it is new content of an exposure already here (a corrected re-delivery),
        so the products made with the old content are made again; ``file_id``: its ledger id."""
        name = PurePath(path).name
        row = pool_row(header, name)
        root = exposure_root(name)
        self.state.put_member(Member(root, str(path), self._expected_per_detector(header), file_id))
        before = self.state.put_row(row["program"], root, row["asn_candidate"], row)
        changed = {row["asn_candidate"]} | ({before} if before is not None else set())
        touched = self._regroup(row["program"], changed, self.clock())
        touched |= self.state.expecting(root)
        renewed = self.state.fired_with(root) if replaced else set()
        return self._check(touched | renewed, new_member=True, renewed=renewed)

    def add_asn(self, asn: dict) -> list[Firing]:
        """An ASN file arrived: its products' member lists become the expected members."""
        now = self.clock()
        for product in asn["products"]:
            expected = tuple(sorted({exposure_root(m["expname"]) for m in product["members"]
                                     if m["exptype"].lower() == "science"}))
            single = dict(asn, products=[copy.deepcopy(product)])
            cand = self.state.candidate(product["name"]) or self._new(product["name"], now)
            self.state.put_candidate(replace(cand, source=SOURCE_ASN, expected_roots=expected, asn=single))
        return self._check({a["name"] for a in asn["products"]}, new_member=False)

    def expire(self, now: float | None = None) -> list[Firing]:
        """Fire (partial) every unfired candidate older than the late-member timeout."""
        now = self.clock() if now is None else now
        return [self._fire(cand, partial=not self._complete(cand)) for cand in self.state.unfired()
                if now - cand.since >= self.timeout and self._have(cand)]

    def refire(self, product: str) -> Firing | None:
        """Fire ``product`` again with the members it has now (a remake asked for while it was
        being made); None when there is no such candidate or it has no member."""
        cand = self.state.candidate(product)
        if cand is None or not self._have(cand):
            return None
        return self._fire(cand, partial=not self._complete(cand))

    # ---- reads ---------------------------------------------------------------------------
    def candidate(self, product: str) -> Candidate | None:
        """The candidate of ``product``, or None."""
        return self.state.candidate(product)

    def candidates(self) -> list[Candidate]:
        """Every candidate, oldest first."""
        return self.state.candidates()

    # ---- grouping ------------------------------------------------------------------------
    @staticmethod
    def _expected_per_detector(header) -> int:
        dithers = max(1, _int(header.get("NUMDTHPT"), 1))
        nexp = _int(header.get("NEXPOSUR"), 0)
        return nexp if nexp >= dithers else dithers

    @staticmethod
    def _new(product: str, now: float) -> Candidate:
        return Candidate(product=product, source=SOURCE_HEADERS, expected_roots=(), expected_count=0,
                         have=(), since=now, fired=NOT_FIRED, fired_with=(), asn=None)

    def _regroup(self, program: str, changed: set[str], now: float) -> set[str]:
        """Regenerate the associations of the buckets linked to ``changed``; update their
        candidates and return the products whose grouped members differ from before."""
        buckets = linked_buckets(self.state.buckets(program), changed)
        asns = generate_pool(self.state.rows(program, buckets), Options(rules="level3", discover=False))
        touched = set()
        for a in asns:
            product = a.products[0]["name"]
            roots = [exposure_root(m["expname"]) for m in a.products[0]["members"]
                     if m["exptype"] == "science"]
            old = self.state.candidate(product)
            cand = old or self._new(product, now)
            if cand.source == SOURCE_HEADERS:
                cand = replace(cand, asn=to_dict(a), expected_count=self._expected_from_headers(roots, a))
            if set(roots) != set(cand.have):
                touched.add(product)
            cand = replace(cand, have=tuple(sorted(set(cand.have) | set(roots))))
            if cand != old:     # most regroups change nothing: spare the store a write
                self.state.put_candidate(cand)
        return touched

    def _expected_from_headers(self, roots, asn) -> int:
        detectors = {exposure_root(m["expname"]): m.item.get("detector")
                     for m in asn.products[0]["members"] if m.item is not None}
        per_det: dict = {}
        for r in roots:
            det = detectors.get(r)
            member = self.state.member(r)
            per_det[det] = max(per_det.get(det, 0), member.per_detector if member else 1)
        return sum(per_det.values())

    # ---- firing --------------------------------------------------------------------------
    def _have(self, cand: Candidate) -> list[str]:
        roots = cand.expected_roots if cand.source == SOURCE_ASN else cand.have
        return [r for r in roots if self.state.member(r) is not None]

    def _complete(self, cand: Candidate) -> bool:
        have = self._have(cand)
        if cand.source == SOURCE_ASN:
            return len(have) == len(cand.expected_roots)
        return len(have) >= cand.expected_count

    def _check(self, products, new_member: bool,
               renewed: set[str] | frozenset[str] = frozenset()) -> list[Firing]:
        out = []
        for product in sorted(products):
            cand = self.state.candidate(product)
            have = set(self._have(cand))
            if not have:
                continue
            changed = (new_member and have != set(cand.fired_with)) or product in renewed
            if cand.fired == COMPLETE:
                if changed:  # more exposures than the headers announced: remade with them too
                    out.append(self._fire(cand, partial=False))
            elif self._complete(cand):
                out.append(self._fire(cand, partial=False))
            elif cand.fired == PARTIAL and changed:
                out.append(self._fire(cand, partial=True))
        return out

    def _fire(self, cand: Candidate, partial: bool) -> Firing:
        have = self._have(cand)
        fired = PARTIAL if partial else COMPLETE
        self.state.put_candidate(replace(cand, fired=fired, fired_with=tuple(have)))
        asn = copy.deepcopy(cand.asn) if cand.asn else {"products": [{"name": cand.product}]}
        prod = asn["products"][0]
        members = [self.state.member(r) for r in have]
        declared = ()
        if cand.source == SOURCE_HEADERS or not prod.get("members"):
            prod["members"] = [{"expname": PurePath(m.path).name, "exptype": "science"} for m in members]
        else:   # an ASN file: keep its members, minus science exposures not here yet
            declared = tuple(copy.deepcopy(prod["members"]))
            prod["members"] = [m for m in prod["members"] if m["exptype"].lower() != "science"
                               or exposure_root(m["expname"]) in have]
        return Firing(asn=asn, product=cand.product, members=tuple(m.path for m in members),
                      partial=partial, member_ids=tuple(m.file_id for m in members if m.file_id is not None),
                      declared_members=declared)

    # ---- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain-JSON state of a buffer on a :class:`MemoryState`."""
        return {"timeout": self.timeout, **self._memory().to_dict()}

    @classmethod
    def from_dict(cls, state: dict, clock: Callable[[], float] = time.monotonic) -> AssociationBuffer:
        """The buffer :meth:`to_dict` saved, on a :class:`MemoryState`."""
        return cls(state["timeout"], clock, MemoryState.from_dict(state))

    def _memory(self) -> MemoryState:
        if not isinstance(self.state, MemoryState):
            raise TypeError(f"to_dict needs a MemoryState; this buffer keeps its state in {self.state!r}")
        return self.state


@dataclass(frozen=True)
class _Row:
    bucket: str
    seq: int
    row: dict


class MemoryState:
    """:class:`AssociationState` in dictionaries, with the indexes that keep lookups keyed."""

    def __init__(self):
        self._members: dict[str, Member] = {}
        self._rows: dict[tuple[str, str], _Row] = {}                 # (program, root) -> row
        self._bucket_roots: dict[tuple[str, str], set[str]] = {}     # (program, bucket) -> roots
        self._buckets: dict[str, dict[str, None]] = {}               # program -> buckets, ordered
        self._seq = 0
        self._cands: dict[str, Candidate] = {}
        self._expecting: dict[str, set[str]] = {}                    # root -> products
        self._fired_with: dict[str, set[str]] = {}                   # root -> products
        self._unfired: dict[str, None] = {}                          # products, oldest first

    def member(self, root: str) -> Member | None:
        return self._members.get(root)

    def put_member(self, member: Member) -> None:
        self._members[member.root] = member

    def put_row(self, program: str, root: str, bucket: str, row: dict) -> str | None:
        old = self._rows.get((program, root))
        if old is not None:
            self._bucket_roots[(program, old.bucket)].discard(root)
        self._seq += 1
        self._rows[(program, root)] = _Row(bucket, self._seq, row)
        self._bucket_roots.setdefault((program, bucket), set()).add(root)
        self._buckets.setdefault(program, {})[bucket] = None
        return None if old is None else old.bucket

    def buckets(self, program: str) -> list[str]:
        return list(self._buckets.get(program, ()))

    def rows(self, program: str, buckets: Iterable[str]) -> list[dict]:
        found = [self._rows[(program, root)]
                 for b in buckets for root in self._bucket_roots.get((program, b), ())]
        return [r.row for r in sorted(found, key=lambda r: r.seq)]

    def candidate(self, product: str) -> Candidate | None:
        return self._cands.get(product)

    def put_candidate(self, cand: Candidate) -> None:
        old = self._cands.get(cand.product)
        if old is not None:
            _unindex(self._expecting, old.product, old.expected_roots if old.source == SOURCE_ASN else ())
            _unindex(self._fired_with, old.product, old.fired_with)
        else:
            self._unfired[cand.product] = None
        self._cands[cand.product] = cand
        for root in cand.expected_roots if cand.source == SOURCE_ASN else ():
            self._expecting.setdefault(root, set()).add(cand.product)
        for root in cand.fired_with:
            self._fired_with.setdefault(root, set()).add(cand.product)
        if cand.fired != NOT_FIRED:
            self._unfired.pop(cand.product, None)

    def expecting(self, root: str) -> set[str]:
        return set(self._expecting.get(root, ()))

    def fired_with(self, root: str) -> set[str]:
        return set(self._fired_with.get(root, ()))

    def unfired(self) -> list[Candidate]:
        return [self._cands[p] for p in self._unfired]

    def candidates(self) -> list[Candidate]:
        return list(self._cands.values())

    def to_dict(self) -> dict:
        """Plain JSON: members, rows in arrival order, candidates oldest first."""
        rows = sorted(self._rows.items(), key=lambda kv: kv[1].seq)
        return copy.deepcopy({"members": [asdict(m) for m in self._members.values()],
                              "rows": [[p, root, r.bucket, r.row] for (p, root), r in rows],
                              "cands": [asdict(c) for c in self._cands.values()]})

    @classmethod
    def from_dict(cls, data: dict) -> MemoryState:
        """The state :meth:`to_dict` saved."""
        state = cls()
        for m in data["members"]:
            state.put_member(Member(**m))
        for program, root, bucket, row in copy.deepcopy(data["rows"]):
            state.put_row(program, root, bucket, row)
        for c in copy.deepcopy(data["cands"]):
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in c.items()}
            state.put_candidate(Candidate(**fields))
        return state


def _unindex(index: dict[str, set[str]], product: str, roots: Iterable[str]) -> None:
    for root in roots:
        index.get(root, set()).discard(product)
