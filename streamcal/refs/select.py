"""Which reference file applies to an exposure: CRDS-like selection rules on header keywords.

A :class:`RefKeys` is what the index keeps of a file's primary header.  :func:`match_score`
says whether a file applies to an exposure and how specifically; :func:`best` picks the most
specific, then the latest USEAFTER, then the file name (so the choice is deterministic).

Rules
-----
- REFTYPE and INSTRUME must match.
- DETECTOR, READPATT, EXP_TYPE, FILTER, PUPIL, SUBARRAY: a value of ANY/N/A/GENERIC (or none)
  matches everything; a CRDS pattern keyword (``P_READPA = "NIS | NISRAPID |"``) overrides the
  plain keyword; otherwise the value must be equal.  Each keyword that is named and matches makes
  the file more specific.
- Window: a file whose window (SUBSTRT1/2, SUBSIZE1/2) equals the exposure's matches exactly;
  a larger file containing the exposure window matches as a cut-out (less specific), except for
  the types in :data:`EXACT_WINDOW_TYPES` (darks are subarray-specific in jwst).
- USEAFTER: a file applies only to exposures taken at or after it (DATE-BEG, or DATE-OBS +
  TIME-OBS); among the rest it ranks ties (latest wins).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Iterable, Mapping

from ..models import ExposureMeta

#: Reference types that must match the exposure's subarray exactly (never cut out).
EXACT_WINDOW_TYPES = frozenset({"dark"})
#: Values that mean "applies to every value" in a reference-file selector keyword.
WILDCARDS = frozenset({"", "ANY", "N/A", "NA", "GENERIC", "NONE"})
#: Selector keywords besides the window: header keyword -> ExposureMeta attribute.
SELECTORS = {"DETECTOR": "detector", "READPATT": "readpatt", "EXP_TYPE": "exp_type",
             "FILTER": "filter", "PUPIL": "pupil"}
_SCORE_EXACT_WINDOW = 2


@dataclass(frozen=True)
class RefKeys:
    """The selection keywords of one reference file (all upper case strings)."""

    path: str
    reftype: str
    instrument: str
    detector: str = "ANY"
    subarray: str = "FULL"
    substrt1: int = 1
    substrt2: int = 1
    subsize1: int = 0
    subsize2: int = 0
    readpatt: str = "ANY"
    exp_type: str = "ANY"
    filter: str = "ANY"
    pupil: str = "ANY"
    useafter: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def window(self) -> tuple[int, int, int, int]:
        return self.substrt1, self.substrt2, self.subsize1, self.subsize2


def _text(header: Mapping[str, object], key: str, default: str = "ANY") -> str:
    value = header.get(key)
    if value is None:
        return default
    return str(value).strip().upper() or default


def _pattern_key(keyword: str) -> str:
    return "P_" + keyword[:6]


def keys_from_header(path: str, header: Mapping[str, object]) -> RefKeys:
    """Selection keywords of a reference file; pattern keywords (``P_READPA``) replace the plain
    ones.  Files without SUBSTRT/SUBSIZE are taken as windows starting at (1, 1) whose size is
    unknown (0) -- they match exposures by SUBARRAY name, or as full frame when SUBARRAY is FULL.

    Examples
    --------
    >>> k = keys_from_header("x.fits", {"REFTYPE": "GAIN", "INSTRUME": "NIRISS",
    ...                                  "P_READPA": "NIS | NISRAPID |"})
    >>> (k.reftype, k.readpatt)
    ('gain', 'NIS|NISRAPID')
    """
    values = {}
    for keyword, attr in SELECTORS.items():
        pattern = header.get(_pattern_key(keyword))
        raw = _text({"v": pattern}, "v") if pattern is not None else _text(header, keyword)
        values[attr] = "|".join(p.strip() for p in raw.split("|") if p.strip()) or "ANY"
    return RefKeys(
        path=str(path), reftype=_text(header, "REFTYPE", "").lower(),
        instrument=_text(header, "INSTRUME", ""), subarray=_text(header, "SUBARRAY", "FULL"),
        substrt1=int(header.get("SUBSTRT1") or 1), substrt2=int(header.get("SUBSTRT2") or 1),
        subsize1=int(header.get("SUBSIZE1") or 0), subsize2=int(header.get("SUBSIZE2") or 0),
        useafter=_text(header, "USEAFTER", ""), **values)


def value_matches(selector: str, value: str) -> bool | None:
    """``None`` when the selector is a wildcard, else whether ``value`` is one of its
    ``|``-separated alternatives.

    >>> value_matches("NIS|NISRAPID", "NIS"), value_matches("ANY", "X"), value_matches("A", "B")
    (True, None, False)
    """
    alternatives = [a for a in selector.split("|") if a]
    if not alternatives or any(a in WILDCARDS for a in alternatives):
        return None
    return value.strip().upper() in alternatives


def _inside(keys: RefKeys, meta: ExposureMeta) -> bool:
    return (keys.substrt1 <= meta.substrt1 and keys.substrt2 <= meta.substrt2
            and meta.substrt1 + meta.subsize1 <= keys.substrt1 + keys.subsize1
            and meta.substrt2 + meta.subsize2 <= keys.substrt2 + keys.subsize2)


def _window_score(keys: RefKeys, meta: ExposureMeta) -> int | None:
    """2 for the same window, 1 for a containing (cut-out) window, None for no match."""
    if keys.subsize1 == 0 or keys.subsize2 == 0:  # size unknown: go by name
        if keys.subarray == meta.subarray:
            return _SCORE_EXACT_WINDOW
        return 1 if keys.subarray in ("FULL", "GENERIC") and keys.reftype not in EXACT_WINDOW_TYPES else None
    if keys.window == (meta.substrt1, meta.substrt2, meta.subsize1, meta.subsize2):
        return _SCORE_EXACT_WINDOW
    if keys.reftype in EXACT_WINDOW_TYPES:
        return None
    return 1 if _inside(keys, meta) else None


def _parse_date(text: str) -> datetime | None:
    """ISO (``2022-04-27T00:31:02.1``, ``2022-04-27``) or old CRDS style (``Jan 01 2022 00:00:00``)."""
    text = text.strip().split(".")[0]  # fractional seconds do not matter here
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y", "%b %d %Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _in_use(useafter: str, date_obs: str) -> bool:
    """A file applies to exposures taken at or after its USEAFTER (CRDS's rule).  Unknown or
    unparsable dates do not exclude a file."""
    start, taken = _parse_date(useafter or ""), _parse_date(date_obs or "")
    return start is None or taken is None or start <= taken


def match_score(keys: RefKeys, reftype: str, meta: ExposureMeta) -> int | None:
    """How specifically a file applies to an exposure (higher is more specific); ``None`` if
    it does not apply at all."""
    if keys.reftype != reftype.lower() or keys.instrument != meta.instrument:
        return None
    score = _window_score(keys, meta)
    if score is None or not _in_use(keys.useafter, meta.date_obs):
        return None
    for attr in SELECTORS.values():
        hit = value_matches(getattr(keys, attr), str(getattr(meta, attr)))
        if hit is False:
            return None
        score += 1 if hit else 0
    return score


def best(candidates: Iterable[RefKeys], reftype: str, meta: ExposureMeta) -> RefKeys | None:
    """The applicable file that is most specific, then latest USEAFTER, then last by name."""
    scored = [(score, _parse_date(k.useafter or "") or datetime.min, k.path, k) for k in candidates
              if (score := match_score(k, reftype, meta)) is not None]
    if not scored:
        return None
    return max(scored, key=lambda t: t[:3])[3]


def cutout_window(keys: RefKeys, meta: ExposureMeta) -> tuple[slice, slice] | None:
    """0-based ``(rows, cols)`` to cut from a file for an exposure (jwst reffile_utils:
    ``x0 = SUBSTRT1_sci - SUBSTRT1_ref``); ``None`` when the file already has the exposure's
    window (or its size is unknown)."""
    if keys.subsize1 == 0 or keys.subsize2 == 0:
        return None
    if keys.window == (meta.substrt1, meta.substrt2, meta.subsize1, meta.subsize2):
        return None
    x0 = meta.substrt1 - keys.substrt1
    y0 = meta.substrt2 - keys.substrt2
    return slice(y0, y0 + meta.subsize2), slice(x0, x0 + meta.subsize1)


def window_contains(keys: RefKeys, meta: ExposureMeta) -> bool:
    """Whether a file's window holds the exposure's (checks ``--override`` files, to which
    no selection rule applies); a file of unknown size is given the benefit of the doubt."""
    return keys.subsize1 == 0 or keys.subsize2 == 0 or _inside(keys, meta)
