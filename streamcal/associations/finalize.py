"""Finalization of level-2 nod, imprint and WFSS associations and level-3 fixed-slit nods
(the rules of jwst 3.0 rules_level2_base.py / rules_level3_base.py, re-implemented)."""

from __future__ import annotations

from pathlib import PurePath

from .constraints import EMPTY, lookup
from .members import Member, dash, remove_suffix

MULTI_OBS_CANDIDATE_TYPES = ("group", "background", "mosaic")


def _root(expname: str) -> str:
    return remove_suffix(PurePath(expname).stem)


def fin_plain(asn) -> list:
    return [asn] if asn.is_valid else []


def fin_science(asn) -> list:
    """Level-3 science: group/background/mosaic candidates need more than one observation."""
    if asn.acid[1].lower() in MULTI_OBS_CANDIDATE_TYPES and len(asn._found("obs_num")) <= 1:
        return []
    return fin_plain(asn)


def prune_imprints(asn) -> None:
    """Keep only the imprints of the science target (and of its dither point when there are
    more imprints than science exposures)."""
    members = asn.products[0]["members"]
    science, imp_sci, imp_bkg, sci_is_bkg, targets = [], [], [], False, set()
    for m in members:
        if m.item is None or "targetid" not in m.item or "bkgdtarg" not in m.item:
            continue
        if m["exptype"] == "science":
            science.append(m)
            targets.add(str(m.item["targetid"]))
            sci_is_bkg = sci_is_bkg or m.item["bkgdtarg"] == "t"
        elif m["exptype"] == "imprint":
            (imp_bkg if m.item["bkgdtarg"] == "t" else imp_sci).append(m)
    check = imp_bkg if sci_is_bkg else imp_sci
    same = [m for m in check if m.item is not None and str(m.item.get("targetid")) in targets]
    if same:
        for m in check:
            if m not in same:
                members.remove(m)
        check = same
    if 1 <= len(science) < len(check):
        keep = {i["expname"] for s in science if "dithptin" in s.item for i in check
                if "dithptin" in i.item and i.item["dithptin"] == s.item["dithptin"]}
        if keep:
            for m in check:
                if m["expname"] not in keep:
                    members.remove(m)


def _int(item, *names):
    for n in names:
        try:
            return int(item[n])
        except (KeyError, ValueError, TypeError):
            continue
    return None


def nod_background_overlap(sci: dict, bkg: dict) -> bool:
    """Would ``bkg`` (another nod position) overlap the science exposure's source?"""
    exptype = str(sci.get("exp_type", "")).lower()
    if exptype not in ("nrs_fixedslit", "nrs_msaspec"):
        return False
    if str(sci.get("targetid")).lower() != str(bkg.get("targetid")).lower():
        return True
    numdthpt, patt, bpatt = _int(sci, "numdthpt"), _int(sci, "patt_num"), _int(bkg, "patt_num")
    if None in (numdthpt, patt, bpatt):
        numdthpt, patt, bpatt = 0, None, None
    sub, bsub = _int(sci, "subpxpts", "subpxpns"), _int(bkg, "subpxpts", "subpxpns")
    if None in (patt, bpatt, sub, bsub) or sub == 0 or bsub == 0:
        return exptype == "nrs_fixedslit"
    s_pt, b_pt = (patt - 1) // sub, (bpatt - 1) // bsub
    if s_pt == b_pt:
        return True
    if exptype == "nrs_msaspec":
        return False
    slit = str(sci.get("fxd_slit", "")).lower()
    return slit == "s1600a1" and numdthpt // sub == 5 and abs(s_pt - b_pt) <= 1


def fin_nod(asn) -> list:
    """One association per science exposure, the other nods (not overlapping) as background."""
    if not asn.is_valid:
        return []
    members = asn.products[0]["members"]
    science = [m for m in members if m["exptype"] == "science"]
    others = [m for m in members if m["exptype"] != "science"]
    out = []
    for sci in science:
        new = asn.clone()
        new_members = [sci] + [o.but(exptype="background") for o in science
                               if o["expname"] != sci["expname"]
                               and not nod_background_overlap(sci.item, o.item)] + others
        new.data["products"] = [{"name": _root(sci["expname"]), "members": new_members}]
        if new.is_valid:
            out.append(new)
    return out


def fin_imprint(asn) -> list:
    if asn.is_valid:
        prune_imprints(asn)
    return [asn] if asn.is_valid else []


def fin_imprint_nod(asn) -> list:
    if asn.is_valid:
        prune_imprints(asn)
    return fin_nod(asn)


def _closest_direct(asn, science, directs):
    if asn.rule.name == "Asn_Lv2WFSSParallel":
        longs = [d for d in directs if "long" in d["expname"]]
        return (longs or directs)[0]
    closest = directs[0]
    sci_in = _spcin(science.item)
    if sci_in is None:
        return closest
    best = 9999
    for d in directs:
        d_in = _spcin(d.item)
        if d_in is not None and 0 < d_in - sci_in < best:
            best, closest = d_in - sci_in, d
    return closest


def _spcin(item):
    try:
        return int(lookup(item, ["expspcin"], EMPTY)[1])
    except (KeyError, ValueError):
        return None


def _direct_opt_elem(item: dict) -> str:
    if str(item.get("instrume", "unknown")).lower() == "miri":
        parts = [str(item["filter"])] if item.get("filter") is not None else []
    else:
        parts = []
        for keys in (["filter", "band"], ["pupil", "grating"]):
            try:
                parts.append(lookup(item, keys, EMPTY)[1])
            except KeyError:
                pass
    return "-".join(sorted(parts, key=str.lower)) or "clear"


def fin_wfss(asn) -> list:
    """Replace the direct images by the level-3 products of the closest one (i2d, cat, segm)."""
    directs, sciences = asn.members_of("direct_image"), asn.members_of("science")
    if not directs or not sciences:
        return []
    members = asn.current_product["members"]
    members[:] = [m for m in members if m["exptype"] != "direct_image"]
    direct = _closest_direct(asn, sciences[0], directs)
    instrument = "-".join(asn._found("instrument"))
    root = (f"{asn._prefix()}_{asn.target_id()}_{instrument}_"
            f"{_direct_opt_elem(direct.item)}{dash(asn.slit_name())}{dash(asn.subarray())}")
    root = root.lower()
    for suffix, kind in (("_i2d.fits", "direct_image"), ("_cat.ecsv", "sourcecat"),
                         ("_segm.fits", "segmap")):
        members.append(Member({"expname": root + suffix, "exptype": kind}))
    return [asn] if asn.is_valid else []


def fin_fixedslit_bkg(asn) -> list:
    """Nodded fixed-slit spectra: each science exposure's x1d is also a background member."""
    if not asn.is_valid:
        return []
    found = asn._found("patttype_spectarg")
    if not found or "nod" not in found[0]:
        return [asn]
    members = asn.products[0]["members"]
    science = [m for m in members if m["exptype"] == "science"]
    if len(science) < 2:
        return [asn]
    for sci in science:
        members.append(sci.but(expname=_root(sci["expname"]) + "_x1d.fits", exptype="background"))
    return [asn] if asn.is_valid else []


FINALIZERS = {"plain": fin_plain, "science": fin_science, "imprint": fin_imprint,
              "nod": fin_nod, "imprint+nod": fin_imprint_nod, "wfss": fin_wfss,
              "fixedslit_bkg": fin_fixedslit_bkg}
