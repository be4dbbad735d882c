"""The level-2b and level-3 association rules of jwst 3.0, as data.

Each rule is a ``Rule``: level, asn_type, how a member's exposure type is decided, how the
product is named, how the association is finalized, extra validity tests, and a builder that
returns its constraint tree for one association (builders get the association so predicates
can look at its state, e.g. "has it a science member yet").  The facts (which columns must
agree, which exposure types each rule takes) are those of
jwst/associations/lib/rules_level2b.py, rules_level2_base.py, rules_level3.py,
rules_level3_base.py and dms_base.py; the representation is streamcal's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .constraints import Attr, Group, Over, Simple
from . import exptypes as X

TSO_TYPES = "|".join(X.TSO_EXP_TYPES)
NOD_PATTERNS = "2-point-nod|4-point-nod|along-slit-nod"
DIRECT_CANDIDATE = r"\[\('c\d{4}', 'direct_image'\)\]"


@dataclass(frozen=True)
class Rule:
    """One association rule.

    exptype: 'lv2', 'lv2special', 'lv2wfss', 'lv2lrsnod', 'lv3' or 'lv3aux' (see
    association.exposure_type); product: naming scheme (association.product_name);
    finalize: 'plain', 'imprint', 'nod', 'imprint+nod', 'wfss', 'science' (level 3) or
    'fixedslit_bkg'; validity: extra validity test names (association.VALIDITY).
    """

    name: str
    level: int
    asn_type: str
    build: Callable
    exptype: str = "lv3"
    product: str = "dms"
    finalize: str = "science"
    validity: tuple = ()
    coron_as_rate: bool = False
    all_candidates_ok: bool = False


# --- shared fragments -----------------------------------------------------------------------

def pred(test, name=None, value=True):
    """A predicate on the item that must give ``value``."""
    return Simple(name=name, value=value, test=lambda v, item: test(item) == v, force_unique=False)


def tso():
    return Group([Attr(sources=["pntgtype"], value="science"),
                  Group([Attr(sources=["tsovisit"], value="t"),
                         Attr(sources=["exp_type"], value=TSO_TYPES)], "any")], name="is_tso")


def not_tso():
    return Group([tso()], "notany")


def not_bkgd(force_unique=False):
    return Group([Attr("bkgdtarg", ["bkgdtarg"], force_unique=force_unique)], "notany")


def not_bkgd_or_tso():
    return Group([Attr("bkgdtarg", ["bkgdtarg"]), tso()], "notany")


def wfsc():
    return Group([Group([Attr("wfsc", ["visitype"], ".+wfsc.+")])])


def target_acq(asn):
    return Simple("target_acq", "target_acquisition", sources=asn.exposure_type)


def exp_type(value, force_unique=True, name="exp_type"):
    return Attr(name, ["exp_type"], value, force_unique=force_unique)


def single_science(asn, **kw):
    """The item is science and the association has no science member yet."""
    return Group([Simple(value=True, sources=lambda item: asn.exposure_type(item) == "science"),
                  Simple(value=False, sources=lambda _item: asn.has_science())], **kw)


def not_science(asn):
    return Simple(value="science", test=lambda v, item: asn.exposure_type(item) != v,
                  force_unique=False)


# level 2 ---------------------------------------------------------------------------------

def base2():
    return Group([Attr("program", ["program"]),
                  Attr("is_tso", ["tsovisit"], required=False, force_unique=True)])


def mode2():
    return Group([
        Attr("instrument", ["instrume"]), Attr("detector", ["detector"]),
        Attr("opt_elem", ["filter", "band"]),
        Attr("opt_elem2", ["pupil", "grating"], required=False),
        Attr("fxd_slit", ["fxd_slit"], required=False),
        Attr("subarray", ["subarray"], required=False),
        Attr("channel", ["channel"], required=False),
        Group([Attr(sources=["detector"], value="nirspec"),
               Attr(sources=["filter"], value="opaque")], "notany"),
        Group([Attr(sources=["detector"], value="nrcblong"),
               Attr(sources=["exp_type"], value="nrc_tsgrism")], "notall"),
        Group([Attr(sources=["visitype"], value=".+wfsc.+")], "notany"),
        Attr("slit", ["fxd_slit"], required=False)])


def background2():
    return Attr("background", ["bkgdtarg"], force_unique=False, force_reprocess=Over.EXISTING,
                only_on_match=True)


def target2():
    return Group([Group([Attr("acdirect", ["asn_candidate"], DIRECT_CANDIDATE),
                         Simple("target", sources=lambda _item: "000")]),
                  Attr("target", ["targetid"])], "any")


def image_science():
    return exp_type("|".join(X.IMAGE2_SCIENCE_EXP_TYPES))


def spectral_science(exclude=()):
    types = X.SPEC2_SCIENCE_EXP_TYPES
    if exclude:
        types = sorted(set(types).symmetric_difference(exclude))
    return Group([exp_type("|".join(types))], "any")


def special():
    return Attr("is_special", ["bkgdtarg", "is_psf"])


def valid_ifu():
    return pred(X.nrsifu_valid_detector)


def bkg_or_single(asn):
    return Group([background2(), single_science(asn)], "any")


def lv2_image(asn):
    return Group([base2(), mode2(), image_science(), not_tso(), bkg_or_single(asn)])


def lv2_coron_as_rate(asn):
    return Group([base2(), mode2(), exp_type("nrc_coron"), Attr("subarray", ["subarray"], "full"),
                  Simple(value=True, sources=X.nrccoron_valid_detector), bkg_or_single(asn)])


def lv2_image_nonscience(asn):
    nonsci = Group([target_acq(asn),
                    Attr("non_science", ["exp_type"], "|".join(X.IMAGE2_NONSCIENCE_EXP_TYPES)),
                    Group([exp_type("nrs_msaspec"),
                           Attr(sources=["msastate"], value="primarypark_allopen"),
                           Attr(sources=["grating"], value="mirror")])], "any")
    return Group([base2(), nonsci, single_science(asn)])


def lv2_image_special(asn):
    return Group([base2(), mode2(), image_science(), single_science(asn), special()])


def lv2_image_tso(asn):
    return Group([base2(), mode2(), image_science(), single_science(asn), tso()])


def lv2_fgs(asn):
    return Group([base2(), single_science(asn), exp_type("fgs_image|fgs_focus"),
                  Group([wfsc()], "notany")])


def lv2_spec(asn):
    imprint = Group([Attr("imprint", ["is_imprt"])], reprocess_on_match=True, over=Over.EXISTING)
    sci_or_imprint = Group([imprint, single_science(asn)], "any")
    same_tile = Group([sci_or_imprint, Attr("mostilno", ["mostilno"])])
    exposures = Group([background2(), same_tile], "any")
    not_tso_or_nod = Group([tso(), Attr("patttype", ["patttype"], NOD_PATTERNS)], "notany")
    types = spectral_science(["nis_wfss", "nrc_wfss", "nrs_fixedslit", "nrs_msaspec",
                              "mir_lrs-slitless", "mir_lrs-fixedslit"])
    return Group([base2(), mode2(), types, exposures, not_tso_or_nod, valid_ifu()])


def lv2_spec_imprint(asn):
    return Group([base2(), mode2(), spectral_science(), single_science(asn), valid_ifu(),
                  Attr("imprint", ["is_imprt"])])


def lv2_spec_special(asn):
    imprint_special = Group([
        Attr("imprint", ["is_imprt"], force_reprocess=Over.EXISTING, only_on_match=True),
        Attr("mosaic_tile", ["mostilno"]),
        Simple(value="imprint", sources=lambda _item: asn.original_exptype,
               test=lambda a, b: a != b, force_unique=False)])
    exposures = Group([imprint_special, single_science(asn)], "any")
    return Group([base2(), mode2(), spectral_science(), special(), valid_ifu(), exposures])


def _not_pair(first, second):
    return Group([Group([first, second])], "notany")


def lv2_spec_tso(asn):
    sci = Group([base2(), mode2(),
                 spectral_science(["nrs_msaspec", "nrs_fixedslit", "mir_lrs-slitless",
                                   "mir_lrs-fixedslit"]),
                 single_science(asn), tso()])
    return Group([
        sci,
        _not_pair(exp_type("nrc_tsgrism"), Attr("pupil", ["pupil"], "clear")),
        _not_pair(exp_type("nrs_brightobj"), pred(X.nrsfss_valid_detector, value=False)),
        _not_pair(exp_type("nis_soss"), pred(X.nissoss_calibrated_filter, value=False))])


def lv2_mir_lrs_taconfirm(asn):
    lrs = "mir_lrs-slitless|mir_lrs-fixedslit"
    sci = Group([single_science(asn), exp_type(lrs)])
    bkg = Group([background2(), not_tso(), exp_type(lrs)])
    scibkg = Group([mode2(), Group([sci, bkg], "any")])
    scita = Group([Attr("obs_id", ["obs_id"]),
                   Group([sci, exp_type("mir_taconfirm")], "any")])
    return Group([base2(), Group([scibkg, scita], "any")])


def lv2_mir_lrs_nod(asn):
    sci = Group([exp_type("mir_lrs-fixedslit"), Attr("patt_num", ["patt_num"]),
                 single_science(asn, reprocess_on_match=True, over=Over.EXISTING),
                 Attr("patttype", ["patttype"], "along-slit-nod", force_unique=False)])
    other_patt = Attr("is_current_patt_num", ["patt_num"],
                      lambda: "((?!{}).)*".format(asn.tree["patt_num"].value))
    background = Group([exp_type("mir_lrs-fixedslit"), other_patt,
                        Simple("force_match", None, sources=lambda _i: False,
                               test=lambda _a, _b: True, force_unique=True),
                        Attr("patttype", ["patttype"], "along-slit-nod", force_unique=False)])
    exposures = Group([sci, background, exp_type("mir_taconfirm")], "any")
    not_bkg_candidate = pred(lambda _item: asn.acid[1] != "background")
    return Group([Group([base2(), not_bkg_candidate]), exposures])


def lv2_nrslamp_image(asn):
    return Group([base2(), single_science(asn), exp_type("nrs_lamp"),
                  Attr(sources=["grating"], value="mirror"),
                  Attr(sources=["opmode"], value="image", required=False)])


def lv2_nrslamp_spectral(asn):
    not_msaspec = Group([Attr("opmode", ["opmode"], "msaspec")], "notany")
    msa_with_meta = Group([Attr(sources=["opmode"], value="msaspec"),
                           Attr(sources=["msametfl"])])
    bad_path = Group([Attr(sources=["grating"], value="mirror", force_unique=False),
                      Attr(sources=["opmode"], value="grating-only", force_unique=False),
                      Attr(sources=["lamp"], value="nolamp", force_unique=False)], "notany")
    return Group([base2(), single_science(asn), exp_type("nrs_autoflat|nrs_autowave|nrs_lamp"),
                  Attr("opt_elem", ["filter"], "opaque"), pred(X.nrslamp_valid_detector),
                  Group([not_msaspec, msa_with_meta], "any"), Attr("lamp", ["lamp"]), bad_path])


def _wfss2(asn, grism, image, extra):
    wfss_or_direct = Group([
        exp_type(grism),
        Attr("image_exp_type", ["exp_type"], image, force_reprocess=Over.NONSCIENCE,
             only_on_match=True)], "any")
    exposures = Group([not_science(asn), single_science(asn)], "any")
    return Group([base2(), target2(), wfss_or_direct, Attr("instrument", ["instrume"]),
                  *extra, exposures])


def lv2_wfss_nis(asn):
    return _wfss2(asn, "nis_wfss", "nis_image",
                  [Attr("instrument", ["instrume"]), Attr("pupil", ["pupil"]),
                   Attr("subarray", ["subarray"])])


def lv2_wfss_nrc(asn):
    return _wfss2(asn, "nrc_wfss", "nrc_image", [Attr("detector", ["detector"])])


def lv2_wfss_mir(asn):
    return _wfss2(asn, "mir_wfss", "mir_image", [Attr("detector", ["detector"])])


def lv2_wfss_parallel(asn):
    wfss_or_direct = Group([
        exp_type("nis_wfss|nrc_wfss|mir_wfss"),
        Attr("image_exp_type", ["exp_type"], "nis_image|nrc_image|mir_image",
             force_reprocess=Over.NONSCIENCE, only_on_match=True)], "any")
    exposures = Group([not_science(asn), single_science(asn)], "any")
    return Group([Attr("acdirect", ["asn_candidate"], DIRECT_CANDIDATE), wfss_or_direct,
                  exposures, target2(), Attr("instrument", ["instrume"])])


def lv2_nrs_msa(asn):
    msa = Group([exp_type("nrs_msaspec"), Attr(sources=["msametfl"]),
                 Attr("expspcin", ["expspcin"])])
    return Group([base2(), mode2(), msa])


def lv2_nrs_fss(asn):
    nod_science = Group([Attr("expspcin", ["expspcin"]), Attr("nods", ["numdthpt"]),
                         Attr("subpxpts", ["subpxpns", "subpxpts"]),
                         Simple(value="science", test=lambda v, i: asn.exposure_type(i) == v,
                                force_unique=False)])
    exposures = Group([not_science(asn), nod_science], "any")
    return Group([base2(), mode2(), exp_type("nrs_fixedslit"), pred(X.nrsfss_valid_detector),
                  exposures])


def lv2_nrs_ifu_nod(asn):
    return Group([base2(), mode2(), exp_type("nrs_ifu"), valid_ifu(),
                  Attr("patttype", ["patttype"], "2-point-nod|4-point-nod", force_unique=True),
                  Attr("mosaic_tile", ["mostilno"])])


def lv2_wfsc(asn):
    not_jitter = Group([Attr("dms_note", ["dms_note"], "wfsc_los_jitter"),
                        exp_type("nrc_image")], "notall")
    return Group([base2(), image_science(), single_science(asn), wfsc(), not_jitter])


# level 3 ---------------------------------------------------------------------------------

def base3():
    return Group([Attr("program", ["program"]), Attr("instrument", ["instrume"])], name="base")


def optical_path():
    return Group([
        Attr("opt_elem", ["filter"], required=False),
        Attr("opt_elem2", ["pupil", "grating"], required=False),
        Group([Attr("fxd_slit2", ["fxd_slit"], ["s200a1|s200a2"], force_unique=False,
                    required=False),
               Attr("fxd_slit", ["fxd_slit"], required=False)], "any"),
        Attr("subarray", ["subarray"])])


def _target_attr(asn, science_only=False):
    if asn is None:
        return Attr("target", ["targetid"])
    if science_only:
        only = (lambda item: asn.exposure_type(item) == "science")
    else:
        only = (lambda item: asn.exposure_type(item) != "background")
    return Attr("target", ["targetid"], onlyif=only, force_reprocess=Over.EXISTING,
                only_on_match=True)


def target3(asn=None):
    return Group([Group([Attr("acdirect", ["asn_candidate"], DIRECT_CANDIDATE),
                         Simple("target", sources=lambda _item: "000")]),
                  _target_attr(asn)], "any")


def image3_type():
    return exp_type("nrc_image|mir_image|nis_image|fgs_image|nrs_mimf")


def not_wfs_visit():
    return Attr("wfsvisit", ["visitype"], "((?!wfsc).)*", required=False)


def science3(asn, rule_tree):
    """Level-3 wrapper: program+instrument, no imprints, and the rule (with its observation
    number) or a target acquisition of an observation already in the association."""
    acqs = Group([target_acq(asn),
                  Attr("acq_obsnum", ["obs_num"], force_unique=False,
                       value=lambda: "(" + "|".join(asn.tree["obs_num"].found) + ")")],
                 name="acq_constraint", over=Over.EXISTING)
    rule = Group([rule_tree, Attr("obs_num", ["obs_num"], force_unique=False, required=False)],
                 name="rule")
    return Group([base3(), Attr(sources=["is_imprt"], force_undefined=True),
                  Group([rule, acqs], "any", name="acq_check")], name="dmsbase_top")


def lv3_acq_reprocess(asn):
    fail = Simple("force_fail", "anything but None", test=lambda _a, _b: False,
                  reprocess_on_fail=True, over=Over.NONSCIENCE, reprocess_rules=[])
    return Group([target_acq(asn), fail])


def lv3_ami(asn):
    return science3(asn, Group([optical_path(), exp_type("nis_ami"),
                                _target_attr(asn, science_only=True)]))


def lv3_image(asn):
    return science3(asn, Group([optical_path(), target3(asn), image3_type(), not_wfs_visit(),
                                not_bkgd_or_tso()]))


def lv3_image_background(asn):
    return science3(asn, Group([optical_path(), target3(asn), image3_type(), not_wfs_visit(),
                                Attr("bkgdtarg", ["bkgdtarg"]), not_tso()]))


def lv3_mir_coron(asn):
    return science3(asn, Group([optical_path(), exp_type("mir_lyot|mir_4qpm"),
                                _target_attr(asn, science_only=True), not_bkgd()],
                               name="asn_coron"))


def lv3_mir_mrs(asn):
    return science3(asn, Group([target3(asn), exp_type("mir_mrs"), not_tso()]))


def lv3_mir_mrs_background(asn):
    return science3(asn, Group([target3(), exp_type("mir_mrs"), not_tso(),
                                Attr("bkgdtarg", ["bkgdtarg"], "T")]))


def lv3_nrc_coron(asn):
    return science3(asn, Group([optical_path(), exp_type("nrc_coron"),
                                _target_attr(asn, science_only=True), not_bkgd(),
                                Simple(value=True, force_unique=False,
                                       test=lambda _v, item: X.nrccoron_valid_detector(item))],
                               name="asn_coron"))


def lv3_nrc_coron_image(asn):
    not_bkgd_or_psf = Group([Attr("bkgdtarg", ["bkgdtarg"], force_unique=False),
                             Attr("is_psf", ["is_psf"], "T")], "notany")
    return science3(asn, Group([optical_path(), exp_type("nrc_coron"),
                                _target_attr(asn, science_only=True), not_bkgd_or_psf,
                                Attr("channel", ["channel"], "short"),
                                Attr("subarray", ["subarray"], "full")]))


def lv3_nrs_fss(asn):
    return science3(asn, Group([not_tso(),
                                exp_type("nrs_autoflat|nrs_autowave|nrs_fixedslit", False),
                                pred(X.nrsfss_valid_detector), optical_path(), target3(asn)]))


def lv3_nrs_ifu(asn):
    return science3(asn, Group([target3(asn), exp_type("nrs_autowave|nrs_ifu", False),
                                pred(X.nrsifu_valid_detector),
                                Attr("patttype", ["patttype"], required=True), not_tso(),
                                Attr("opt_elem", ["grating"])]))


def lv3_nrs_ifu_background(asn):
    return science3(asn, Group([target3(asn), not_tso(), Attr("bkgdtarg", ["bkgdtarg"], "T"),
                                Attr("allowed_bkgdtarg", ["exp_type"], "nrs_ifu"),
                                pred(X.nrsifu_valid_detector),
                                Attr("opt_elem", ["grating"], force_unique=True)]))


def lv3_slitless(asn):
    not_nod = Group([Attr("patttype_spectarg", ["patttype"])], "notany")
    not_lrs_tso = Group([Attr("restricted_slitless", ["exp_type"], "mir_lrs-slitless"), tso()],
                        "notany")
    return science3(asn, Group([not_tso(), optical_path(), target3(asn),
                                exp_type("nis_soss", False), not_nod, not_lrs_tso]))


def lv3_spec_aux(asn):
    return science3(asn, Group([target3(asn), not_tso(), Attr("bkgdtarg", ["bkgdtarg"], "T"),
                                Attr("allowed_bkgdtarg", ["exp_type"],
                                     "mir_lrs-fixedslit|nrs_fixedslit"),
                                optical_path()]))


def lv3_spectral_source(asn):
    msa = Group([exp_type("nrs_msaspec", False), Attr("is_msa", ["msametfl"], force_unique=False)],
                name="msa_spectral")
    msa_or_calib = Group([exp_type("nrs_autoflat|nrs_autowave", False), msa], "any")
    return science3(asn, Group([not_tso(), optical_path(), target3(asn), msa_or_calib]))


def lv3_spectral_target(asn):
    nod = Group([Attr("patttype_spectarg", ["patttype"], NOD_PATTERNS)], "any")
    return science3(asn, Group([not_tso(), optical_path(), target3(asn),
                                exp_type("mir_lrs-fixedslit|nis_soss", False), nod]))


def lv3_tso(asn):
    not_ifu = Group([exp_type("mir_mrs|mir_flatmrs|nrs_autowave|nrs_ifu", False)], "notany")
    bad_grism = Group([
        Group([Attr("restricted_grism", ["exp_type"], "nrc_tsgrism"),
               Attr("grism_clear", ["pupil"], "clear|gdhs0|gdhs60")]),
        Group([Attr("restricted_ts", ["exp_type"], "nrc_tsgrism"),
               Attr("module", ["detector"], "nrcblong")]),
        Attr("subarray", ["subarray"],
             "sub260stripe4_dhs|sub41stripe1_dhs|sub82stripe2_dhs|sub164stripe4_dhs")], "notany")
    bad_soss = Group([Group([exp_type("nis_soss"), Attr("nints", ["nints"], "1")]),
                      Group([exp_type("nis_soss"),
                             pred(X.nissoss_calibrated_filter, value=False)])], "notany")
    bad_bots = Group([Group([exp_type("nrs_brightobj"),
                             pred(X.nrsfss_valid_detector, value=False)])], "notany")
    return science3(asn, Group([target3(asn), optical_path(), tso(), Attr("exp_type", ["exp_type"]),
                                not_ifu, bad_grism, bad_soss, bad_bots]))


def lv3_wfscmb(asn):
    not_jitter = Group([Attr("dms_note", ["dms_note"], "wfsc_los_jitter")], "notany")
    return science3(asn, Group([optical_path(), target3(asn), image3_type(),
                                Attr("patttype", ["patttype"], "wfsc"),
                                Attr("detector", ["detector"]), Attr("obs_id", ["obs_id"]),
                                Attr("act_id", ["act_id"]), not_jitter]))


def _wfss3(asn, grism, opt, opt2):
    nodes = [target3(asn), exp_type(grism), Attr("opt_elem", [opt[0]], opt[1], force_unique=True)]
    if opt2:
        nodes.append(Attr("opt_elem2", [opt2]))
    return science3(asn, Group(nodes))


def lv3_wfss_nrc(asn):
    return _wfss3(asn, "nrc_wfss", ("pupil", "GRISMR|GRISMC"), "filter")


def lv3_wfss_nis(asn):
    return _wfss3(asn, "nis_wfss", ("filter", "gr150r|gr150c"), "pupil")


def lv3_wfss_mir(asn):
    return _wfss3(asn, "mir_wfss", ("filter", "P750L"), None)


def lv3_image_mosaic(asn):
    return science3(asn, Group([optical_path(), image3_type(), not_wfs_visit(),
                                not_bkgd_or_tso()]))


def _r2(name, asn_type, build, **kw):
    kw.setdefault("exptype", "lv2")
    kw.setdefault("product", "lv2")
    kw.setdefault("finalize", "plain")
    return Rule(name, 2, asn_type, build, **kw)


# In jwst's registry order (rule names sorted, level 2b module first).
LEVEL2B_RULES = (
    _r2("Asn_Lv2CoronAsRate", "image2", lv2_coron_as_rate, coron_as_rate=True),
    _r2("Asn_Lv2FGS", "image2", lv2_fgs),
    _r2("Asn_Lv2Image", "image2", lv2_image),
    _r2("Asn_Lv2ImageNonScience", "image2", lv2_image_nonscience, exptype="lv2special"),
    _r2("Asn_Lv2ImageSpecial", "image2", lv2_image_special, exptype="lv2special"),
    _r2("Asn_Lv2ImageTSO", "tso-image2", lv2_image_tso),
    _r2("Asn_Lv2MIRLRSFixedSlitNod", "spec2", lv2_mir_lrs_nod, exptype="lv2lrsnod"),
    _r2("Asn_Lv2NRSFSS", "spec2", lv2_nrs_fss, finalize="nod"),
    _r2("Asn_Lv2NRSIFUNod", "spec2", lv2_nrs_ifu_nod, finalize="imprint+nod"),
    _r2("Asn_Lv2NRSLAMPImage", "image2", lv2_nrslamp_image, exptype="lv2special"),
    _r2("Asn_Lv2NRSLAMPSpectral", "nrslamp-spec2", lv2_nrslamp_spectral, exptype="lv2special"),
    _r2("Asn_Lv2NRSMSA", "spec2", lv2_nrs_msa, finalize="nod"),
    _r2("Asn_Lv2Spec", "spec2", lv2_spec, finalize="imprint"),
    _r2("Asn_Lv2SpecImprint", "spec2", lv2_spec_imprint, exptype="lv2special"),
    _r2("Asn_Lv2SpecSpecial", "spec2", lv2_spec_special, exptype="lv2special",
        finalize="imprint"),
    _r2("Asn_Lv2SpecTSO", "tso-spec2", lv2_spec_tso),
    _r2("Asn_Lv2WFSC", "image2", lv2_wfsc),
    _r2("Asn_Lv2WFSSMIR", "spec2", lv2_wfss_mir, exptype="lv2wfss", finalize="wfss"),
    _r2("Asn_Lv2WFSSNIS", "spec2", lv2_wfss_nis, exptype="lv2wfss", finalize="wfss"),
    _r2("Asn_Lv2WFSSNRC", "spec2", lv2_wfss_nrc, exptype="lv2wfss", finalize="wfss"),
    _r2("Asn_Lv2WFSSParallel", "spec2", lv2_wfss_parallel, exptype="lv2wfss", finalize="wfss",
        all_candidates_ok=True),
    _r2("Asn_MIRLRSTAConfirm", "spec2", lv2_mir_lrs_taconfirm),
)

LEVEL3_RULES = (
    Rule("Asn_Lv3ACQ_Reprocess", 3, "user_built", lv3_acq_reprocess, finalize="plain"),
    Rule("Asn_Lv3AMI", 3, "ami3", lv3_ami, validity=("has_psf",)),
    Rule("Asn_Lv3Image", 3, "image3", lv3_image),
    Rule("Asn_Lv3ImageBackground", 3, "image3", lv3_image_background, exptype="lv3aux"),
    Rule("Asn_Lv3ImageMosaic", 3, "image3", lv3_image_mosaic, validity=("is_type_mosaic",)),
    Rule("Asn_Lv3MIRCoron", 3, "coron3", lv3_mir_coron, validity=("has_psf",)),
    Rule("Asn_Lv3MIRMRS", 3, "spec3", lv3_mir_mrs, product="noopt"),
    Rule("Asn_Lv3MIRMRSBackground", 3, "spec3", lv3_mir_mrs_background, exptype="lv3aux",
         product="noopt"),
    Rule("Asn_Lv3NRCCoron", 3, "coron3", lv3_nrc_coron, validity=("has_psf",)),
    Rule("Asn_Lv3NRCCoronImage", 3, "image3", lv3_nrc_coron_image, product="coronimage",
         coron_as_rate=True),
    Rule("Asn_Lv3NRSFSS", 3, "spec3", lv3_nrs_fss, product="nrsfs_sources"),
    Rule("Asn_Lv3NRSIFU", 3, "spec3", lv3_nrs_ifu),
    Rule("Asn_Lv3NRSIFUBackground", 3, "spec3", lv3_nrs_ifu_background, exptype="lv3aux"),
    Rule("Asn_Lv3SlitlessSpectral", 3, "spec3", lv3_slitless),
    Rule("Asn_Lv3SpecAux", 3, "spec3", lv3_spec_aux, exptype="lv3aux"),
    Rule("Asn_Lv3SpectralSource", 3, "spec3", lv3_spectral_source, product="sources"),
    Rule("Asn_Lv3SpectralTarget", 3, "spec3", lv3_spectral_target, finalize="fixedslit_bkg"),
    Rule("Asn_Lv3TSO", 3, "tso3", lv3_tso, validity=("is_type_observation",)),
    Rule("Asn_Lv3WFSCMB", 3, "wfs-image3", lv3_wfscmb, product="wfscmb",
         validity=("has_pair", "is_not_group")),
    Rule("Asn_Lv3WFSSMIR", 3, "spec3", lv3_wfss_mir, product="wfss"),
    Rule("Asn_Lv3WFSSNIS", 3, "spec3", lv3_wfss_nis, product="wfss"),
    Rule("Asn_Lv3WFSSNRC", 3, "spec3", lv3_wfss_nrc, product="wfss"),
)

RULESETS = {"level2b": LEVEL2B_RULES, "level3": LEVEL3_RULES,
            "default": LEVEL2B_RULES + LEVEL3_RULES}


def ruleset(name: str | None) -> tuple[Rule, ...]:
    """Rules by set name: None/'default' (both levels), 'level2b' or 'level3'."""
    try:
        return RULESETS[name or "default"]
    except KeyError:
        raise ValueError(f"unknown rule set {name!r}; choose from {sorted(RULESETS)}") from None
