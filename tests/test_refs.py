"""The synthetic reference set: generation, magnitudes, consistency, cut-outs, caching."""

import pickle
import threading

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.detectors import get_detector, get_subarray
from streamcal.errors import ReferenceFileError
from streamcal.models import ExposureMeta
from streamcal.refs import ReferenceSet, generate
from streamcal.refs import synthetic as syn


def meta_for(detector="NRCA1", subarray="FULL", *, readpatt=None, exp_type=None, start=None, noutputs=None,
             **kw) -> ExposureMeta:
    """ExposureMeta of a detector/subarray from the detector tables (no file needed)."""
    det = get_detector(detector)
    sub = get_subarray(det, subarray, start=start, noutputs=noutputs)
    prefix = {"NIRCAM": "NRC", "NIRISS": "NIS", "NIRSPEC": "NRS", "MIRI": "MIR", "FGS": "FGS"}[det.instrument]
    default_patt = {"NIRCAM": "RAPID", "NIRISS": "NISRAPID", "NIRSPEC": "NRSRAPID", "MIRI": "FASTR1",
                    "FGS": "FGSRAPID"}[det.instrument]
    return ExposureMeta(filename="test_uncal.fits", instrument=det.instrument, detector=det.name,
                        exp_type=exp_type or f"{prefix}_IMAGE", nints=1, ngroups=5, nframes=1, groupgap=0,
                        tframe=sub.tframe, tgroup=sub.tframe, readpatt=readpatt or default_patt,
                        subarray=sub.name, substrt1=sub.substrt1, substrt2=sub.substrt2,
                        subsize1=sub.subsize1, subsize2=sub.subsize2, noutputs=sub.noutputs, **kw)


# ----------------------------------------------------------------------------- generation

def test_file_names_headers_and_dq_def(refs):
    path = refs.select("gain", meta_for("NRCA1"))
    assert path.name == f"streamcal_nircam_nrca1_gain_{syn.VERSION}.fits"
    dark = refs.select("dark", meta_for("NRCA1", "SUB400P"))
    assert dark.name == f"streamcal_nircam_nrca1_dark_sub400p_{syn.VERSION}.fits"
    with fits.open(refs.select("mask", meta_for("NRCA1"))) as hdul:
        h = hdul[0].header
        for key in ("REFTYPE", "INSTRUME", "DETECTOR", "SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1",
                    "SUBSIZE2", "READPATT", "EXP_TYPE", "FILTER", "USEAFTER", "PEDIGREE", "DESCRIP", "AUTHOR"):
            assert key in h, key
        assert (h["REFTYPE"], h["INSTRUME"], h["DETECTOR"], h["SUBSIZE1"]) == ("MASK", "NIRCAM", "NRCA1", 2048)
        assert [x.name for x in hdul[1:]] == ["DQ", "DQ_DEF"]
        assert hdul["DQ"].data.dtype == np.uint8            # compact local bits ...
        assert "REFERENCE_PIXEL" in list(hdul["DQ_DEF"].data["NAME"])  # ... explained by DQ_DEF


def test_generation_is_deterministic(tmp_path):
    det = get_detector("GUIDER1")
    a = generate.ensure("linearity", det, None, tmp_path / "a")
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = generate.ensure("linearity", det, None, b_dir)
    with fits.open(a) as ha, fits.open(b) as hb:
        assert np.array_equal(ha["COEFFS"].data, hb["COEFFS"].data, equal_nan=True)
        assert np.array_equal(ha["DQ"].data, hb["DQ"].data)


def test_concurrent_generation_gives_one_complete_file(tmp_path):
    """Two threads making the same file at once: temp + rename, so one complete file remains."""
    det = get_detector("NRS2")
    results, errors = [], []

    def make():
        try:
            results.append(generate.ensure("readnoise", det, None, tmp_path))
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]      # no temporary left
    assert fits.getdata(results[0], "SCI").shape == (2048, 2048)


# ------------------------------------------------------------------------------ magnitudes

@pytest.mark.parametrize("detector,gain,rn", [("NRCA1", 2.05, 11.0), ("MIRIMAGE", 4.0, 25.0), ("GUIDER2", 2.0, 12.0)])
def test_gain_and_read_noise_magnitudes(refs, detector, gain, rn):
    m = meta_for(detector)
    g = refs.get("gain", m).arrays["SCI"]
    r = refs.get("readnoise", m).arrays["SCI"]
    assert np.median(g) == pytest.approx(gain, rel=0.01) and 0.005 < np.std(g) / gain < 0.05
    assert np.median(r) == pytest.approx(rn, rel=0.02)


def test_nir_bias_saturation_linearity(refs):
    m = meta_for("NRCA1")
    bias = refs.get("superbias", m).arrays["SCI"]
    assert np.median(bias) == pytest.approx(12000, rel=0.03) and bias.std() > 50   # structured
    sat = refs.get("saturation", m)
    thresh = sat.arrays["SCI"]
    lo, hi = np.nanpercentile(thresh, [5, 95])
    assert 52000 < lo and hi < 63000                                     # raw DN, bias included
    assert np.nanmedian(thresh - bias) == pytest.approx(45000, rel=0.02)  # well depth above bias
    no_check = (sat.arrays["DQ"] & dqflags.NO_SAT_CHECK) != 0
    assert 0 < no_check.sum() < 1000 and np.isnan(thresh[no_check]).all()
    coeffs = refs.get("linearity", m).arrays["COEFFS"]
    assert coeffs.shape == (4, 2048, 2048)
    f = 40000.0
    corr = np.nanmedian(coeffs[2]) * f ** 2 + np.nanmedian(coeffs[3]) * f ** 3
    assert 0.02 < corr / f < 0.05                                       # a few % at 40000 DN
    assert np.array_equal(np.isnan(coeffs[2]), (refs.get("linearity", m).arrays["DQ"] & dqflags.NO_LIN_CORR) != 0)


def test_mask_flags(refs):
    dq = refs.get("mask", meta_for("NIS")).arrays["DQ"]
    assert dq.dtype == np.uint32
    ref = (dq & dqflags.REFERENCE_PIXEL) != 0
    assert ref.sum() == 2048 ** 2 - 2040 ** 2
    dnu = (dq & dqflags.DO_NOT_USE) != 0
    assert 0.0005 < dnu.mean() < 0.002                                  # ~0.1 %
    assert ((dq & dqflags.DEAD) != 0).any() and ((dq & dqflags.HOT) != 0).any()
    assert not (dnu & ref).any()


def test_dark_consistent_with_mask(refs):
    m = meta_for("NRCB1", "SUB160P")
    dark = refs.get("dark", m)
    sci = dark.arrays["SCI"]
    assert sci.shape == (generate.NIR_DARK_FRAMES, 160, 160)
    assert dark.header["NFRAMES"] == 1 and dark.header["GROUPGAP"] == 0
    assert not sci[0].any()                                             # group 0 subtracted
    rate = (sci[-1] - sci[0]) / ((sci.shape[0] - 1) * m.tframe)
    live = (refs.get("mask", m).arrays["DQ"] & (dqflags.HOT | dqflags.DQ["WARM"] | dqflags.REFERENCE_PIXEL)) == 0
    assert 0.001 < np.median(rate[live]) < 0.01                         # DN/s
    hot = (refs.get("mask", m).arrays["DQ"] & dqflags.HOT) != 0
    assert np.all(rate[hot] >= 0.5)
    assert np.array_equal((dark.arrays["DQ"] & dqflags.HOT) != 0, hot)


def test_miri_dark_and_reset_are_4d(refs):
    m = meta_for("MIRIMAGE", "SUB64")
    assert refs.get("dark", m).arrays["SCI"].shape == generate.MIRI_DARK_SHAPE + (64, 72)
    reset = refs.get("reset", m).arrays["SCI"]
    assert reset.shape == generate.MIRI_DARK_SHAPE + (64, 72)
    assert np.median(reset[0, 0]) == pytest.approx(20, abs=1) and np.median(reset[1, 0]) == pytest.approx(10, abs=1)
    table = refs.get("rscd", m).tables["RSCD_GROUP_SKIP"]
    row = table[(table["subarray"] == "SUB64") & (table["readpatt"] == "FASTR1")]  # RSCDModel's column names
    assert len(row) == 1 and row["group_skip"][0] == syn.RSCD_GROUP_SKIP["SUB64"]


def test_fgs_flat_and_ipc(refs):
    flat = refs.get("flat", meta_for("GUIDER2", "128X128"))
    assert flat.arrays["SCI"].shape == (128, 128)
    assert np.nanmedian(flat.arrays["SCI"]) == pytest.approx(1.0, abs=0.01)
    kernel = refs.get("ipc", meta_for("GUIDER2", "128X128")).arrays["SCI"]
    assert kernel.shape == (3, 3) and kernel.sum() == pytest.approx(1.0, abs=1e-6) and kernel[1, 1] > 1


def test_supported_by_exp_type():
    """NIRSpec's synthetic FLAT exists for its imaging EXP_TYPEs only, and NIRSpec has no
    synthetic PHOTOM/AREA (CRDS has none for NIRSpec imaging); the imagers are unaffected."""
    nrs = get_detector("NRS1")
    assert generate.supported("flat", nrs, meta_for("NRS1", exp_type="NRS_TACQ"))
    assert not generate.supported("flat", nrs, meta_for("NRS1", exp_type="NRS_FIXEDSLIT"))
    assert not generate.supported("flat", nrs)                       # no exposure: no EXP_TYPE to go by
    assert not any(generate.supported(t, nrs, meta_for("NRS1")) for t in ("photom", "area"))
    assert generate.supported("gain", nrs) and generate.supported("flat", get_detector("NRCA1"))
    with pytest.raises(KeyError, match="NRS_IFU"):
        generate.build("flat", nrs, meta_for("NRS1", exp_type="NRS_IFU"))


# --------------------------------------------------------------------------- selection

def test_not_applicable_returns_none(refs):
    assert refs.get("flat", meta_for("NRS1", exp_type="NRS_FIXEDSLIT")) is None  # spectra: FFLAT/SFLAT/DFLAT
    assert refs.get("superbias", meta_for("MIRIMAGE")) is None  # MIRI has no superbias step
    assert refs.get("refpix", meta_for("NRS1")) is None         # IRS2 only: out of scope
    assert refs.get("reset", meta_for("NRCA1")) is None
    other = meta_for("NRCA1")
    assert refs.get("gain", ExposureMeta(**{**other.__dict__, "detector": "NRCC9"})) is None


@pytest.mark.parametrize("detector,subarray", [("NRCA1", "SUB400P"), ("NIS", "SUBSTRIP256"), ("MIRIMAGE", "SUB128"),
                                               ("NRS1", "SUB2048")])
def test_subarray_cutout_matches_full_frame_slice(refs, detector, subarray):
    sub_meta = meta_for(detector, subarray)
    rows, cols = sub_meta.window()
    for reftype, ext in (("gain", "SCI"), ("mask", "DQ"), ("linearity", "COEFFS")):
        full = refs.get(reftype, meta_for(detector)).arrays[ext]
        cut = refs.get(reftype, sub_meta).arrays[ext]
        assert np.array_equal(cut, full[..., rows, cols], equal_nan=True), reftype


def test_guider_window_anywhere(refs):
    """Guide-star windows move per exposure: every one is cut from the full-frame files."""
    rng = np.random.default_rng(3)
    full = refs.get("gain", meta_for("GUIDER1")).arrays["SCI"]
    for _ in range(3):
        x0, y0 = (int(v) for v in rng.integers(1, 2048 - 32, 2))
        m = meta_for("GUIDER1", "32X32", start=(x0, y0))
        assert np.array_equal(refs.get("gain", m).arrays["SCI"], full[y0 - 1:y0 + 31, x0 - 1:x0 + 31])
    moved = meta_for("GUIDER1", "32X32", start=(100, 200))
    assert refs.get("dark", moved).arrays["SCI"].shape[-2:] == (32, 32)
    assert "x100y200" in refs.select("dark", moved).name                 # darks per window


def test_dark_is_per_readout(refs):
    four = meta_for("NRCALONG", "SUBGRISM64")
    one = meta_for("NRCALONG", "SUBGRISM64", noutputs=1)
    assert refs.select("dark", four) != refs.select("dark", one)
    assert refs.get("dark", one).header["TFRAME"] == pytest.approx(one.tframe)


def test_override_wins_and_is_checked(refs, tmp_path):
    m = meta_for("NRCA1", "SUB64P")
    other = refs.select("gain", meta_for("NRCB1"))
    over = ReferenceSet(overrides={"GAIN": other})
    assert over.select("gain", m) == other and over.select("gain", meta_for("MIRIMAGE")) == other
    assert over.get("gain", m).arrays["SCI"].shape == (64, 64)
    assert over.select("readnoise", m) == refs.select("readnoise", m)   # other types unaffected
    with pytest.raises(ReferenceFileError, match="no such file"):
        ReferenceSet(overrides={"gain": tmp_path / "missing.fits"})
    small = refs.select("dark", meta_for("NRCA1", "SUB64P"))
    with pytest.raises(ReferenceFileError, match="covers"):
        ReferenceSet(overrides={"dark": small}).get("dark", meta_for("NRCA1", "SUB160P"))


def test_cache_shares_read_only_arrays_and_is_bounded(refs):
    m = meta_for("NRCA1", "SUB64P")
    a = refs.get("gain", m)
    assert refs.get("gain", m) is a                                     # cached: no re-read
    with pytest.raises(ValueError):
        a.arrays["SCI"][0, 0] = 1.0                                     # steps must copy
    small = ReferenceSet(max_cache_bytes=20_000)
    small.get("gain", m)
    small.get("readnoise", m)                                           # 16 kB each: evicts gain
    assert len(small._cache) == 1


def test_reference_set_pickles(refs):
    clone = pickle.loads(pickle.dumps(refs))
    m = meta_for("NRCA1", "SUB64P")
    assert clone.select("gain", m) == refs.select("gain", m)


def test_index_records_generated_files(refs):
    m = meta_for("NRCA1", "SUB64P")
    path = refs.select("gain", m)
    assert (refs.directory / "index.json").is_file()
    assert any(k.path == str(path) and k.reftype == "gain" for k in refs.indexed())


def test_unknown_subarray_gets_its_own_dark(refs):
    """A subarray that streamcal's tables do not name (here NIRCam coronagraphic SUB320A430R):
    full-frame types are cut, the dark is made for it."""
    base = meta_for("NRCALONG")
    m = ExposureMeta(**{**base.__dict__, "subarray": "SUB320A430R", "substrt1": 1455, "substrt2": 1508,
                        "subsize1": 320, "subsize2": 320, "tframe": 1.6, "noutputs": 1})
    assert generate.window_tag(get_detector("NRCALONG"), m) == "sub320a430r_x1455y1508_320x320_t1p6"
    assert refs.get("dark", m).arrays["SCI"].shape == (generate.NIR_DARK_FRAMES, 320, 320)
    assert refs.get("gain", m).arrays["SCI"].shape == (320, 320)


@pytest.mark.parametrize("module", ["streamcal.detectors", "streamcal.refs.select", "streamcal.refs.synthetic",
                                    "streamcal.refs.generate", "streamcal.refs.io", "streamcal.refs.synth_stage2"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0


def test_pool_shares_files_between_cache_dirs(tmp_path, monkeypatch):
    """Synthetic files are generated once in the pool and hard-linked into each cache dir."""
    monkeypatch.setenv("STREAMCAL_REFS_POOL", str(tmp_path / "pool"))
    m = meta_for("NRS2", "SUB32")
    a = ReferenceSet(cache_dir=tmp_path / "a").select("readnoise", m)
    b = ReferenceSet(cache_dir=tmp_path / "b").select("readnoise", m)
    pooled = tmp_path / "pool" / a.name
    assert a.stat().st_ino == b.stat().st_ino == pooled.stat().st_ino    # one copy on disk
    monkeypatch.setenv("STREAMCAL_REFS_POOL", "")                          # no pool: own file
    c = ReferenceSet(cache_dir=tmp_path / "c").select("readnoise", m)
    assert c.stat().st_ino != a.stat().st_ino


#: The stdatamodels class jwst 3.0's steps open each synthetic type as (dq_init MaskModel, ...,
#: dark_current DarkMIRIModel / DarkNirspecModel / DarkModel by instrument, photom and
#: source_catalog through ``datamodels.open``, hence the instrument's imaging class in DATAMODL).
JWST_REF_CLASS = {"mask": "MaskModel", "saturation": "SaturationModel", "superbias": "SuperBiasModel",
                  "linearity": "LinearityModel", "gain": "GainModel", "readnoise": "ReadnoiseModel",
                  "ipc": "IPCModel", "flat": "FlatModel", "rscd": "RSCDModel", "reset": "ResetModel",
                  "area": "PixelAreaModel", "abvegaoffset": "ABVegaOffsetModel", "distortion": "DistortionModel",
                  "filteroffset": "FilteroffsetModel",
                  "dark": {"MIRI": "DarkMIRIModel", "NIRSPEC": "DarkNirspecModel"},
                  "photom": {"NIRCAM": "NrcImgPhotomModel", "NIRISS": "NisImgPhotomModel",
                             "MIRI": "MirImgPhotomModel", "FGS": "FgsImgPhotomModel"},
                  "apcorr": {"NIRCAM": "NrcImgApcorrModel", "NIRISS": "NisImgApcorrModel",
                             "MIRI": "MirImgApcorrModel", "FGS": "FgsImgApcorrModel"}}
#: What each step reads from the model: present, and an array or table (a class whose schema
#: has no FITS layout for it leaves a bare node, as ABVegaOffsetModel does for a FITS file).
JWST_REF_PAYLOAD = {"mask": "dq", "saturation": "data", "superbias": "data", "linearity": "coeffs",
                    "gain": "data", "readnoise": "data", "ipc": "data", "flat": "data",
                    "rscd": "rscd_group_skip_table", "reset": "data", "area": "data",
                    "abvegaoffset": "abvega_offset", "distortion": "model", "filteroffset": "filters",
                    "dark": "data", "photom": "phot_table", "apcorr": "apcorr_table"}
#: One imaging exposure per instrument: (detector, subarray, EXP_TYPE, FILTER, PUPIL).
_IMAGING = {"NIRCAM": ("NRCA1", "SUB64P", "NRC_IMAGE", "F200W", "CLEAR"),
            "NIRISS": ("NIS", "SUB64", "NIS_IMAGE", "CLEAR", "F150W"),
            "NIRSPEC": ("NRS1", "SUB32", "NRS_IMAGE", "CLEAR", "N/A"),
            "MIRI": ("MIRIMAGE", "SUB64", "MIR_IMAGE", "F770W", "N/A"),
            "FGS": ("GUIDER1", "32X32", "FGS_IMAGE", "N/A", "N/A")}


@pytest.mark.parametrize("instrument", sorted(_IMAGING))
def test_every_synthetic_type_opens_as_jwsts_class(refs, instrument):
    """Every synthetic file of an instrument opens in ``stdatamodels.open`` as the class jwst's
    step expects, with the array or table the step reads, without a validation warning (a
    DATAMODL naming no class, as "PhotomModel" did, opens as a bare ReferenceFileModel that the
    photom step cannot use; a FITS ABVEGAOFFSET opened as its class but without its table)."""
    import warnings

    stdatamodels = pytest.importorskip("stdatamodels.jwst.datamodels")
    detector, subarray, exp_type, filt, pupil = _IMAGING[instrument]
    meta = meta_for(detector, subarray, exp_type=exp_type, filter=filt, pupil=pupil)
    det = get_detector(detector)
    types = sorted(t for t in set(syn_types(instrument)) if generate.supported(t, det, meta))
    assert set(types) <= set(JWST_REF_CLASS), "a synthetic type without its jwst class in this list"
    for reftype in types:
        expected = JWST_REF_CLASS[reftype]
        expected = expected.get(instrument, "DarkModel") if isinstance(expected, dict) else expected
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = stdatamodels.open(refs.select(reftype, meta))
        assert type(model).__name__ == expected, reftype
        payload = getattr(model, JWST_REF_PAYLOAD[reftype])
        assert payload is not None and len(payload) > 0 and type(payload).__name__ != "ObjectNode", reftype
        assert not [w for w in caught if "Validation" in type(w.message).__name__], reftype
        model.close()


def syn_types(instrument: str) -> frozenset[str]:
    """Every type of the synthetic set for an instrument, FITS and ASDF."""
    return generate.SYNTHETIC_TYPES[instrument] | frozenset(generate.ASDF_BUILDERS)
