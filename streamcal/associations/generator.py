"""Generate associations from a pool the way jwst 3.0's ``asn_generate`` does by default:
per candidate (each ASN_CANDIDATE id gets the rows that name it), plus "discovered"
associations over the whole pool, then finalization, duplicate pruning, sequence numbers and
(optionally) merging of level-2 associations.  Algorithm facts from
jwst/associations/generator/*.py, lib/prune.py, lib/diff.py; the code is streamcal's.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from .association import Association
from .members import remove_suffix
from .constraints import Attr, Over, Requeue, evaluate
from .rules import ruleset

CANDIDATE, DISCOVER = "candidate", "discover"
log = logging.getLogger(__name__)


@dataclass
class Options:
    rules: str | None = None      # None/'default', 'level2b' or 'level3'
    merge: bool = False           # jwst 3.0 default: no merging
    discover: bool = True
    pool_name: str = "in-memory"


def candidate_constraint(ids=None):
    """The global constraint that ties an association to one ASN_CANDIDATE entry."""
    value = ".+(" + "|".join(ids) + ").+" if ids else None
    return lambda: Attr("asn_candidate", ["asn_candidate"], value, force_unique=True,
                        evaluate=True, is_acid=True)


class _Queue:
    """Requeue lists grouped by (rules, over, only_on_match); lowest category first."""

    def __init__(self):
        self.pending = {over: {} for over in Over}

    def extend(self, requeues):
        for rq in requeues:
            bucket = self.pending[rq.over]
            if rq.key in bucket:
                bucket[rq.key].items.extend(rq.items)
            else:
                bucket[rq.key] = rq

    def pop(self):
        for over in Over:
            bucket = self.pending[over]
            if bucket:
                key = next(iter(bucket))
                return bucket.pop(key)
        return None


def _filter_over(rq: Requeue, current: Over):
    """Stop items bouncing between existing-only lists forever (jwst workover_filter)."""
    new_only = rq.over in (Over.RULES, Over.BOTH)
    cur_only = current in (Over.RULES, Over.BOTH)
    if new_only:
        if not cur_only:
            return None
        rq.over = Over.BOTH
        return rq
    return None if not cur_only else rq


def generate(items, rules, registry, pool_name, global_constraint=None) -> list[Association]:
    """Run the rules over the items (list of dict rows) -> unfinalized associations."""
    asns: list[Association] = []
    queue = _Queue()
    queue.extend([Requeue(list(items), list(rules), Over.BOTH)])
    while (plist := queue.pop()) is not None:
        allowed = plist.rules or list(rules)
        for item in plist.items:
            touched, requeue = [], []
            if plist.over in (Over.BOTH, Over.EXISTING, Over.NONSCIENCE):
                for asn in [a for a in asns if any(a.rule is r for r in allowed)]:
                    matched, rq = asn.add(item)
                    requeue.extend(rq)
                    if matched:
                        touched.append(asn)
            if plist.over in (Over.BOTH, Over.RULES):
                skip = {id(a.rule) for a in touched}
                for rule in rules:
                    if id(rule) in skip or not any(rule is r for r in allowed):
                        continue
                    asn = Association(rule, registry, pool_name, global_constraint)
                    matched, rq = asn.add(item)
                    requeue.extend(rq)
                    if matched:
                        asns.append(asn)
            queue.extend([r for r in (_filter_over(rq, plist.over) for rq in requeue) if r])
    return asns


def candidates_by_type(rows) -> dict[str, Counter]:
    """{candidate type: Counter of ids}, in order of first appearance."""
    out: dict[str, list] = defaultdict(list)
    for row in rows:
        value = evaluate(row.get("asn_candidate", ""))
        if isinstance(value, int):
            out["unknown"].append(str(value))
            continue
        try:
            for cid, ctype in value:
                out[ctype].append(cid)
        except (ValueError, TypeError):
            continue
    return {k: Counter(v) for k, v in out.items()}


def generate_pool(rows: list[dict], opts: Options) -> list[Association]:
    """Per-candidate generation + discovery + finalization (+ merge), like asn_generate."""
    rules = ruleset(opts.rules)
    asns: list[Association] = []
    for ctype, ids in candidates_by_type(rows).items():
        for cid in ids:
            sub = [dict(r, asn_candidate=f"[('{cid}', '{ctype}')]") for r in rows
                   if cid in r.get("asn_candidate", "")]
            asns.extend(generate(sub, rules, CANDIDATE, opts.pool_name, candidate_constraint([cid])))
    if opts.discover:
        found = generate(rows, rules, DISCOVER, opts.pool_name)
        candidates = [a for a in asns if a.registry == CANDIDATE]
        found = [d for d in found if not any(same_asn(d, c) for c in candidates)]
        asns = found + candidates
        resequence(asns)
    asns = finalize(asns)
    if opts.merge:
        asns = merge_level2(asns)
    return asns


# ---- comparison and pruning --------------------------------------------------------------

def _names(product):
    return [m["expname"] for m in product["members"]]


def same_members(left: dict, right: dict, strict=True) -> bool:
    """Same (expname, exptype) members, no duplicates (jwst compare_product_membership)."""
    return membership_diff(left, right, strict) == "same"


def membership_diff(left: dict, right: dict, strict=True) -> str:
    """'same', 'subset' or 'different', with jwst's diff semantics: members are paired in
    order by name (without suffix when not strict); "subset" means the only differences are
    the member count and unpaired members."""
    key = (lambda n: n) if strict else (lambda n: remove_suffix(re.sub(r"\.[^.]*$", "", n)))
    errors = set()
    for prod in (left, right):
        if len(set(_names(prod))) != len(prod["members"]):
            errors.add("duplicates")
    if len(left["members"]) != len(right["members"]):
        errors.add("length")
    remaining = list(right["members"])
    unpaired = 0
    for lm in left["members"]:
        hit = next((rm for rm in remaining if key(rm["expname"]) == key(lm["expname"])), None)
        if hit is None:
            unpaired += 1
            continue
        if hit["exptype"] != lm["exptype"]:
            errors.add("exptype")
        remaining.remove(hit)
    if unpaired or remaining:
        errors.add("unpaired")
    if not errors:
        return "same"
    return "subset" if errors == {"length", "unpaired"} else "different"


def _name_parts(name: str) -> set:
    return set(re.split("[_-]", name))


def same_asn(a: Association, b: Association) -> bool:
    """jwst compare_asns: same type, same candidate level, same products and members."""
    if a.data["asn_type"] != b.data["asn_type"] or a.data["asn_id"][0] != b.data["asn_id"][0]:
        return False
    left, right = a.products, list(b.products)
    if len(left) != len(right):
        return False
    for lp in left:
        hit = next((rp for rp in right if _name_parts(rp["name"]) == _name_parts(lp["name"])), None)
        if hit is None or not same_members(lp, hit, strict=False):
            return False
        right.remove(hit)
    return not right


def _by_candidate(asns):
    return sorted(asns, key=lambda a: a.data["asn_id"])


def prune(asns: list[Association]) -> list[Association]:
    return _prune_products(_prune_duplicates(asns))


def _prune_duplicates(asns):
    ordered, kept = _by_candidate(asns), []
    while ordered:
        original = ordered.pop()
        kept.append(original)
        ordered = [a for a in ordered
                   if not same_members(original.products[0], a.products[0])]
    return kept


def _prune_products(asns):
    names = Counter(a.products[0]["name"] for a in asns)
    dups = [n for n, c in names.items() if c > 1]
    if not dups:
        return asns
    ordered = _by_candidate(asns)
    removed: list[Association] = []
    for name in dups:
        group = [a for a in ordered if a.products[0]["name"] == name]
        keep = list(group)
        for asn in group:
            if any(same_asn(asn, r) for r in removed):
                continue
            drop = []
            for other in keep:
                if same_asn(other, asn):
                    continue
                kind = membership_diff(asn.products[0], other.products[0])
                if kind == "subset":
                    small = other
                    if len(other.products[0]["members"]) > len(asn.products[0]["members"]):
                        small, asn = asn, other
                    drop.append(small)
                elif kind == "same":
                    drop.append(other)
                elif membership_diff(asn.products[0], other.products[0], strict=False) != "same":
                    log.warning("associations with the same product name %s but significant "
                                "differences: %s and %s", name, asn.data["asn_rule"],
                                other.data["asn_rule"])
            removed.extend(drop)
            keep = [k for k in keep if not any(k is d for d in drop)]
    return [a for a in ordered if not any(a is r for r in removed)]


def resequence(asns) -> None:
    """Sequence numbers count per (asn_id, asn_type) in list order."""
    counters: dict = defaultdict(int)
    for a in asns:
        key = (a.data["asn_id"], a.data["asn_type"])
        counters[key] += 1
        a.sequence = counters[key]


def finalize(asns: list[Association]) -> list[Association]:
    """Level 2 then level 3: finalize each, prune duplicates, renumber."""
    out = list(asns)
    for level in (2, 3):
        mine = [a for a in out if a.rule.level == level]
        rest = [a for a in out if a.rule.level != level]
        done = [f for a in mine for f in a.finalize()]
        done = prune(done)
        resequence(done)
        out = rest + done
    return out


def merge_level2(asns: list[Association]) -> list[Association]:
    """Merge level-2 associations of the same type and candidate into one with many products."""
    others = [a for a in asns if a.rule.level != 2]
    merged: dict[str, Association] = {}
    for asn in (a for a in asns if a.rule.level == 2):
        key = f"{asn.data['asn_type']}_{asn.data['asn_id']}"
        current = merged.setdefault(key, asn)
        for product in list(asn.products):
            same = [p for p in current.products if p["name"] == product["name"]]
            for p in same:
                names = {m["expname"] for m in p["members"]}
                p["members"].extend(m for m in product["members"] if m["expname"] not in names)
            if not same:
                current.products.append(product)
    return others + list(merged.values())



def associations_from_pool(path, rules: str | None = None, merge: bool = False):
    """[(file name, ASN dict)] that ``asn_generate`` would write for the pool file."""
    from pathlib import Path

    from .asn import asn_filename, to_dict
    from .pool import read_pool

    asns = generate_pool(read_pool(path), Options(rules=rules, merge=merge,
                                                  pool_name=Path(path).name))
    out = []
    for a in asns:
        data = to_dict(a)
        out.append((asn_filename(data, a.sequence), data))
    return out
