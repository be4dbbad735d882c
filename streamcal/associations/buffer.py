"""The stream's association buffer: collects level-2 products per level-3 candidate and says
when stage 3 can run.

Pure Python with an injected clock; the Ray actor around it lives in streamcal/actors/.
Grouping uses the same level-3 rules as ``streamcal associations`` (a pool row is built from
each ``_cal`` header).  Expected members come from an ASN file dropped into the landing
directory when there is one (matched by exposure root, suffix ignored), else from the headers:
per detector, NEXPOSUR exposures when given (and at least NUMDTHPT), else NUMDTHPT dither
points, times the detectors seen.  A candidate fires complete once that many are in; if more
exposures of it arrive afterwards than the headers announced, or new content of one of its
members, it fires again (the product is remade), as a partial product is remade when its
missing members land.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable

from .asn import to_dict
from .members import remove_suffix
from .generator import Options, generate_pool
from .pool import pool_row

NOT_FIRED, PARTIAL, COMPLETE = "none", "partial", "complete"


@dataclass(frozen=True)
class Firing:
    """A level-3 product to (re)make: its ASN dict, product name, member paths (in ASN
    order) and whether members are missing (the product is then marked partial)."""

    asn: dict
    product: str
    members: tuple
    partial: bool


def exposure_root(name: str) -> str:
    """``.../jw..._nrca1_cal.fits`` -> ``jw..._nrca1`` (the key members are matched on)."""
    return remove_suffix(PurePath(name).stem)


def _int(value, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


class AssociationBuffer:
    """See module docstring.  ``clock()`` returns seconds; ``late_member_timeout`` is how long
    a candidate may wait, from its first member, before it fires with what it has."""

    def __init__(self, late_member_timeout: float = 600.0,
                 clock: Callable[[], float] = time.monotonic):
        self.timeout = float(late_member_timeout)
        self.clock = clock
        self.rows: dict[str, list[dict]] = {}      # program -> pool rows
        self.paths: dict[str, str] = {}            # exposure root -> path of its _cal file
        self.counts: dict[str, int] = {}           # exposure root -> expected per detector
        self.cands: dict[str, dict] = {}           # product name -> candidate state
        self.declared: dict[str, dict] = {}        # product name -> ASN dict from a file

    # ---- input ---------------------------------------------------------------------------
    def add(self, path: str, header, replaced: bool = False) -> list[Firing]:
        """A level-2 product arrived: ``path`` of the ``_cal`` file and its primary header;
        ``replaced``: it is new content of an exposure already here (a corrected re-delivery),
        so the products made with the old content are made again."""
        name = PurePath(path).name
        row = pool_row(header, name)
        root = exposure_root(name)
        self.paths[root] = str(path)
        self.counts[root] = self._expected_per_detector(header)
        rows = self.rows.setdefault(row["program"], [])
        rows[:] = [r for r in rows if exposure_root(r["filename"]) != root] + [row]
        now = self.clock()
        touched = self._regroup(row["program"], now)
        touched |= {p for p, c in self.cands.items() if c["source"] == "asn" and root in c["expected"]}
        renewed = {p for p, c in self.cands.items() if root in c["fired_with"]} if replaced else set()
        return self._check(touched | renewed, new_member=True, renewed=renewed)

    def add_asn(self, asn: dict) -> list[Firing]:
        """An ASN file arrived: its products' member lists become the expected members."""
        now = self.clock()
        for product in asn["products"]:
            expected = sorted({exposure_root(m["expname"]) for m in product["members"]
                               if m["exptype"].lower() == "science"})
            single = dict(asn, products=[copy.deepcopy(product)])
            self.declared[product["name"]] = single
            cand = self.cands.setdefault(product["name"], self._new(now))
            cand.update(source="asn", expected=expected, asn=single)
        return self._check(set(a["name"] for a in asn["products"]), new_member=False)

    def expire(self, now: float | None = None) -> list[Firing]:
        """Fire (partial) every unfired candidate older than the late-member timeout."""
        now = self.clock() if now is None else now
        out = []
        for product, cand in self.cands.items():
            if cand["fired"] == NOT_FIRED and now - cand["since"] >= self.timeout and self._have(cand):
                out.append(self._fire(product, cand, partial=not self._complete(cand)))
        return out

    # ---- grouping ------------------------------------------------------------------------
    @staticmethod
    def _expected_per_detector(header) -> int:
        dithers = max(1, _int(header.get("NUMDTHPT"), 1))
        nexp = _int(header.get("NEXPOSUR"), 0)
        return nexp if nexp >= dithers else dithers

    @staticmethod
    def _new(now) -> dict:
        return {"source": "headers", "expected": [], "have": [], "since": now,
                "fired": NOT_FIRED, "fired_with": [], "asn": None}

    def _regroup(self, program: str, now: float) -> set:
        asns = generate_pool(self.rows[program], Options(rules="level3", discover=False))
        touched = set()
        for a in asns:
            product = a.products[0]["name"]
            roots = [exposure_root(m["expname"]) for m in a.products[0]["members"]
                     if m["exptype"] == "science"]
            cand = self.cands.setdefault(product, self._new(now))
            if cand["source"] == "headers":
                cand["asn"] = to_dict(a)
                cand["expected"] = self._expected_from_headers(roots, a)
            if set(roots) != set(cand["have"]):
                touched.add(product)
            cand["have"] = sorted(set(cand["have"]) | set(roots))
        return touched

    def _expected_from_headers(self, roots, asn) -> int:
        detectors = {exposure_root(m["expname"]): m.item.get("detector")
                     for m in asn.products[0]["members"] if m.item is not None}
        per_det: dict = {}
        for r in roots:
            det = detectors.get(r)
            per_det[det] = max(per_det.get(det, 0), self.counts.get(r, 1))
        return sum(per_det.values())

    # ---- firing --------------------------------------------------------------------------
    def _have(self, cand) -> list[str]:
        if cand["source"] == "asn":
            return [r for r in cand["expected"] if r in self.paths]
        return [r for r in cand["have"] if r in self.paths]

    def _complete(self, cand) -> bool:
        have = self._have(cand)
        if cand["source"] == "asn":
            return len(have) == len(cand["expected"])
        return len(have) >= cand["expected"]

    def _check(self, products, new_member: bool, renewed: frozenset | set = frozenset()) -> list[Firing]:
        out = []
        for product in sorted(products):
            cand = self.cands[product]
            have = set(self._have(cand))
            if not have:
                continue
            changed = (new_member and have != set(cand["fired_with"])) or product in renewed
            if cand["fired"] == COMPLETE:
                if changed:  # more exposures than the headers announced: remade with them too
                    out.append(self._fire(product, cand, partial=False))
            elif self._complete(cand):
                out.append(self._fire(product, cand, partial=False))
            elif cand["fired"] == PARTIAL and changed:
                out.append(self._fire(product, cand, partial=True))
        return out

    def _fire(self, product, cand, partial: bool) -> Firing:
        have = self._have(cand)
        cand["fired"] = PARTIAL if partial else COMPLETE
        cand["fired_with"] = list(have)
        asn = copy.deepcopy(cand["asn"]) if cand["asn"] else {"products": [{"name": product}]}
        prod = asn["products"][0]
        if cand["source"] == "headers" or not prod.get("members"):
            prod["members"] = [{"expname": PurePath(self.paths[r]).name, "exptype": "science"}
                               for r in have]
        else:   # an ASN file: keep its members, minus science exposures not here yet
            prod["members"] = [m for m in prod["members"] if m["exptype"].lower() != "science"
                               or exposure_root(m["expname"]) in have]
        members = tuple(self.paths[r] for r in have)
        return Firing(asn=asn, product=product, members=members, partial=partial)

    # ---- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain-JSON state (the stream persists it)."""
        return copy.deepcopy({"timeout": self.timeout, "rows": self.rows, "paths": self.paths,
                              "counts": self.counts, "cands": self.cands,
                              "declared": self.declared})

    @classmethod
    def from_dict(cls, state: dict, clock: Callable[[], float] = time.monotonic):
        buf = cls(state["timeout"], clock)
        for key in ("rows", "paths", "counts", "cands", "declared"):
            setattr(buf, key, copy.deepcopy(state[key]))
        return buf
