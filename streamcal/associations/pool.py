"""Association pools: '|'-separated tables, one row per exposure, every value a lower-case
string (missing -> 'null'), column names lower case (jwst AssociationPool conventions)."""

from __future__ import annotations

from pathlib import Path

from astropy.io import ascii as asciitable
from astropy.io.ascii import convert_numpy


def _as_lower_str():
    func, kind = convert_numpy(str)
    return [(lambda vals: [str(v).lower() for v in func(vals)], kind)]


def read_pool(path, delimiter: str = "|") -> list[dict]:
    """Rows of a pool file as dicts of lower-case strings; '#' lines are comments."""
    try:
        table = asciitable.read(str(path), delimiter=delimiter, format="basic", guess=False,
                                converters={"*": _as_lower_str()}, fill_values=[("", "null")])
    except (ValueError, IndexError, TypeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"not a '{delimiter}'-separated pool table ({reason})") from None
    if hasattr(table, "filled"):
        table = table.filled("null")
    names = list(table.colnames)
    if "filename" not in {n.lower() for n in names}:
        raise ValueError("pool has no FILENAME column")
    return [{n.lower(): str(row[n]) for n in names} for row in table]


def pool_name(path) -> str:
    return Path(path).name


# Pool columns mkpool takes from the primary header (lower case = pool column).
HEADER_COLUMNS = ("program", "obs_id", "visit", "visit_id", "visitgrp", "visitype", "seq_id",
                  "act_id", "exposure", "exp_type", "nexposur", "expcount", "instrume",
                  "detector", "channel", "targprop", "targname", "targtype", "template",
                  "pntg_seq", "targordn", "expspcin", "module", "filter", "pupil", "ditherid",
                  "patttype", "pattstrt", "numdthpt", "pattsize", "subpxpts", "patt_num",
                  "subpixel", "apername", "subarray", "grating", "fxd_slit", "band", "is_psf",
                  "bkgdtarg", "tsovisit", "msastate", "msametfl", "opmode", "lamp", "exsegtot",
                  "nints", "ngroups", "exposerr")


def _pool_value(value) -> str:
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).strip().lower()


def pool_row(header, filename: str) -> dict:
    """A pool row from a primary header, with mkpool's defaults for what headers lack:
    the observation candidate, pntgtype 'science', targetid '1', no imprint, no DMS note."""
    get = (lambda k: header.get(k.upper())) if not isinstance(header, dict) else \
        (lambda k: header.get(k.upper(), header.get(k)))
    row = {col: _pool_value(get(col)) for col in HEADER_COLUMNS}
    obs = get("observtn") or get("obs_num")
    row["obs_num"] = _pool_value(obs)
    row["filename"] = Path(filename).name.lower()
    try:
        obs_id = f"o{int(obs):03d}"
    except (TypeError, ValueError):
        obs_id = "o000"
    row["asn_candidate"] = f"[('{obs_id}', 'observation')]"
    row.update(pntgtype="science", targetid="1", is_imprt="null", dms_note="null",
               mostilno="null", dithptin="null")
    return row
