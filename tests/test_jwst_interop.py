"""jwst interoperability, both ways (issue 9, point 7).

Yardsticks: the official jwst 3.0 pipelines run offline inside the tests (:mod:`jwstkit`:
Detector1Pipeline, Image2Pipeline and AssignWcsStep with streamcal's synthetic reference set
as overrides, CRDS server-less) and stdatamodels 6.0, the library jwst reads products with.

- official products in: a jwst ``_rate`` goes through ``streamcal calibrate`` (image2) and a
  jwst ``_cal`` through an image3 ASN; jwst's ``_cal`` and streamcal's from the same ``_rate``
  agree (WCS, SCI);
- streamcal products out: every product type opens in ``stdatamodels.jwst.datamodels.open``
  as the class jwst uses for it, with ``meta`` populated and ``meta.wcs`` equal to
  streamcal's WCS where the product has one;
- resample's output grid: ``grid_for(as_jwst=True)`` is the one jwst computes
  (``resampled_wcs_from_models``) for the same ``_cal`` files, the ``_i2d``'s own grid is within
  a pixel of it, and the MIRI imager's valid area (reference columns left out) is jwst's
  assign_wcs's from the same DISTORTION file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS as FitsWCS

from jwstkit import offline_crds, run_assign_wcs, run_detector1, run_image2
from streamcal import sim
from streamcal.cli import main
from streamcal.fitsio import read_cal, read_mosaic
from streamcal.pipelines import CalibrationOptions, calibrate_file

pytestmark = pytest.mark.slow  # jwst's pipelines take ~10 s to import and run

stdatamodels = pytest.importorskip("stdatamodels.jwst.datamodels", reason="stdatamodels is a test dependency")

#: Product suffix -> the stdatamodels class jwst 3.0 writes it as.
JWST_CLASS = {"rate": "ImageModel", "rateints": "CubeModel", "ramp": "RampModel", "dark": "RampModel",
              "guider_cal": "GuiderCalModel", "cal": "ImageModel", "calints": "CubeModel", "bsub": "ImageModel",
              "i2d": "ImageModel", "crf": "ImageModel", "segm": "SegmentationMapModel"}
#: Products that carry a gwcs (the others have none in jwst either).
WITH_WCS = {"cal", "calints", "i2d", "crf", "segm"}
PRODUCT = "jw01234-o001_t001_nircam_clear-f200w"


def _simulate(base: Path, refs, observation: int, **config) -> Path:
    settings = dict(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P", ngroups=5, nints=1, seed=3)
    settings.update(config)
    cfg = sim.ExposureConfig(observation=observation, **settings)
    return sim.simulate_exposure(cfg, refs).write(base / "land", base / "truth")


def _open(path: Path):
    """stdatamodels' model of a file, and the validation warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = stdatamodels.open(path)
    return model, [str(w.message) for w in caught if "Validation" in type(w.message).__name__]


def _grid(shape) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = shape
    y, x = np.mgrid[0:ny:max(ny // 6, 1), 0:nx:max(nx // 6, 1)].astype(float)
    return x.ravel(), y.ravel()


def _sky_offset_mas(user_wcs, own_wcs, shape) -> float:
    """Largest sky distance (mas) between the two WCSs' positions of a grid of pixels."""
    x, y = _grid(shape)
    ra1, dec1 = user_wcs(x, y, with_bounding_box=False)
    ra2, dec2 = own_wcs(x, y, with_bounding_box=False)
    return float(np.hypot((ra1 - ra2) * np.cos(np.radians(dec2)), dec1 - dec2).max() * 3.6e6)


def _inverse_offset_px(user_wcs, own_wcs, shape) -> float:
    """Largest distance (pixels) between the two WCSs' inverses of the same sky positions."""
    ra, dec = own_wcs(*_grid(shape), with_bounding_box=False)
    x1, y1 = user_wcs.invert(ra, dec, with_bounding_box=False)
    x2, y2 = own_wcs.invert(ra, dec, with_bounding_box=False)
    return float(np.hypot(x1 - x2, y1 - y2).max())


# ------------------------------------------------------------------ official products in

@pytest.fixture(scope="module")
def official(tmp_path_factory, refs):
    """A simulated raw exposure through jwst's own Detector1Pipeline and Image2Pipeline,
    offline: (workdir, official _rate, official _cal)."""
    base = tmp_path_factory.mktemp("official")
    uncal = _simulate(base, refs, observation=1)
    with offline_crds(base / "crds"):
        rate = run_detector1(uncal, base / "jwst", refs)
        cal = run_image2(rate, base / "jwst", refs)
    return base, rate, cal


def test_official_rate_through_streamcal_image2(official, capsys):
    """jwst's _rate (an ASDF extension of metadata, no WCS) is a valid stage-2 input; the _cal
    streamcal makes from it is jwst's _cal from the same _rate: same WCS, same SCI."""
    base, rate, cal = official
    with fits.open(rate) as hdul:
        assert "ASDF" in hdul and hdul[0].header["CAL_VER"] == "3.0.0"
        assert hdul[0].header["S_RAMP"] == "COMPLETE" and hdul[0].header["S_JUMP"] == "COMPLETE"
    assert main(["calibrate", str(rate), "--out", str(base / "streamcal")]) == 0
    ours = read_cal(base / "streamcal" / cal.name)
    assert ours.bunit == "MJy/sr" and ours.header["S_PHOTOM"] == "COMPLETE"
    theirs = read_cal(cal)
    assert theirs.wcs is not None and _sky_offset_mas(theirs.wcs, ours.wcs, ours.data.shape) < 1e-3
    good = np.isfinite(ours.data) & np.isfinite(theirs.data)
    assert good.mean() > 0.95
    np.testing.assert_allclose(ours.data[good], theirs.data[good], rtol=1e-6)


def test_official_cal_in_an_image3_asn(official, tmp_path):
    """jwst's _cal (its gwcs at meta.wcs of a full stdatamodels tree) as an image3 member."""
    _, _, cal = official
    land = tmp_path / "land"
    land.mkdir()
    (land / cal.name).write_bytes(cal.read_bytes())
    asn = land / "jw01234-o001_image3_00001_asn.json"
    asn.write_text(json.dumps({"asn_type": "image3", "asn_rule": "Asn_Lv3Image", "asn_id": "o001",
                               "program": "01234", "asn_pool": "jw01234_pool", "products": [
                                   {"name": PRODUCT, "members": [{"expname": cal.name, "exptype": "science"}]}]}))
    assert main(["calibrate", str(asn), "--out", str(tmp_path / "out")]) == 0
    mosaic = read_mosaic(tmp_path / "out" / f"{PRODUCT}_i2d.fits")
    assert mosaic.members == [cal.name]
    assert np.isfinite(mosaic.data).mean() > 0.5 and mosaic.wcs is not None


# ------------------------------------------------------------------ streamcal products out

@pytest.fixture(scope="module")
def products(tmp_path_factory, refs):
    """One small file of every product type streamcal writes: {suffix: path}."""
    base = tmp_path_factory.mktemp("products")
    out = base / "out"
    science = [_simulate(base, refs, 1, exposure=k, dither_offset=(0.3 * k, 0.2 * k)) for k in (1, 2)]
    for raw in science:
        calibrate_file(raw, out / "stage1", refs, CalibrationOptions(save_calibrated_ramp=True))
    calibrate_file(_simulate(base, refs, 2, detector="NRCA3", exp_type="NRC_TSIMAGE", nints=3), out / "stage1", refs)
    calibrate_file(_simulate(base, refs, 3, exp_type="NRC_DARK"), out / "stage1", refs)
    calibrate_file(_simulate(base, refs, 4, detector="GUIDER1", exp_type="FGS_ID-IMAGE", subarray=None,
                             ngroups=2, nints=2), out / "stage1", refs)
    rates = sorted((out / "stage1").glob("*_rate.fits"))
    _level2_with_background(rates[0], rates[1], out / "stage2", refs)
    for rate in [rates[1], *(out / "stage1").glob("*_rateints.fits")]:
        calibrate_file(rate, out / "stage2", refs)
    cals = sorted((out / "stage2").glob("jw01234001001_*_cal.fits"))
    asn = out / "stage2" / "jw01234-o001_image3_00001_asn.json"
    asn.write_text(json.dumps({"asn_type": "image3", "asn_id": "o001", "products": [
        {"name": PRODUCT, "members": [{"expname": c.name, "exptype": "science"} for c in cals]}]}))
    options = CalibrationOptions(skip=frozenset({"tweakreg"}))
    calibrate_file(asn, out / "stage3", refs, options)
    found = {"guider_cal": next((out / "stage1").glob("*gs-id*_cal.fits")),
             "i2d": out / "stage3" / f"{PRODUCT}_i2d.fits", "segm": out / "stage3" / f"{PRODUCT}_segm.fits"}
    for suffix in ("rate", "rateints", "ramp", "dark", "cal", "calints", "bsub", "crf"):
        found[suffix] = next(p for p in out.rglob(f"*_{suffix}.fits") if "gs-id" not in p.name)
    return found


def _level2_with_background(science: Path, background: Path, out: Path, refs) -> None:
    """image2 of ``science`` with ``background`` as its background member, saving _bsub."""
    asn = science.parent / "l2_asn.json"
    asn.write_text(json.dumps({"asn_type": "image2", "products": [{"name": "x", "members": [
        {"expname": science.name, "exptype": "science"}, {"expname": background.name, "exptype": "background"}]}]}))
    calibrate_file(asn, out, refs, CalibrationOptions(step_values={"background": {"save_results": "true"}}))


@pytest.mark.parametrize("suffix", sorted(JWST_CLASS))
def test_every_product_opens_in_stdatamodels(products, suffix):
    """The class jwst uses; exposure, instrument, subarray, cal_step, ref_file and wcsinfo
    under meta; meta.wcs where the product has a WCS, agreeing with streamcal's to < 1e-6 px
    and < 1 µas (it is the same transform), None elsewhere."""
    path = products[suffix]
    model, invalid = _open(path)
    assert type(model).__name__ == JWST_CLASS[suffix], path.name
    meta = model.meta
    assert meta.instrument.name in ("NIRCAM", "FGS") and meta.exposure.type and meta.subarray.name
    if suffix not in ("i2d", "segm"):  # a mosaic keeps its first input's subarray, in jwst too
        assert (meta.subarray.ysize, meta.subarray.xsize) == model.data.shape[-2:]
    steps = meta.cal_step.instance
    assert steps and set(steps.values()) <= {"COMPLETE", "SKIPPED"}
    assert meta.ref_file.instance or suffix in ("i2d", "segm")
    wcsinfo = meta.wcsinfo.instance
    assert {"crval1", "crval2", "crpix1", "crpix2"} <= set(wcsinfo) or {"ra_ref", "v2_ref"} <= set(wcsinfo)
    if suffix not in WITH_WCS:
        assert meta.wcs is None
        return
    own = (read_mosaic(path).wcs if suffix == "i2d" else _segm_or_cal_wcs(path))
    shape = model.data.shape[-2:]
    assert _inverse_offset_px(meta.wcs, own, shape) < 1e-6 and _sky_offset_mas(meta.wcs, own, shape) < 1e-3
    ra, dec = meta.wcs(10.0, 12.0)  # a user's call, bounding box on
    assert np.isfinite(ra) and np.isfinite(dec)
    assert suffix == "guider_cal" or not [m for m in invalid if "meta.wcs" in m]


def _segm_or_cal_wcs(path: Path):
    from streamcal.fitsio import wcs_from_hdulist

    with fits.open(path) as hdul:
        return wcs_from_hdulist(path, hdul)


#: One small imaging exposure per instrument besides the NIRCam ones of ``products``:
#: (detector, EXP_TYPE, subarray).
OTHER_INSTRUMENTS = {"NIRISS": ("NIS", "NIS_IMAGE", "SUB64"), "MIRI": ("MIRIMAGE", "MIR_IMAGE", "SUB64"),
                     "NIRSPEC": ("NRS1", "NRS_IMAGE", "SUB32"), "FGS": ("GUIDER1", "FGS_IMAGE", "128X128")}


@pytest.fixture(scope="module")
def other_instruments(tmp_path_factory, refs):
    """{instrument: [_rate, _cal]} of one small imaging exposure per instrument."""
    base = tmp_path_factory.mktemp("instruments")
    found = {}
    for k, (instrument, (detector, exp_type, subarray)) in enumerate(sorted(OTHER_INSTRUMENTS.items())):
        raw = _simulate(base, refs, 10 + k, detector=detector, exp_type=exp_type, subarray=subarray)
        rate = calibrate_file(raw, base / "stage1", refs)[0]
        cal = [p for p in calibrate_file(rate, base / "stage2", refs, CalibrationOptions(skip=frozenset({"resample"})))
               if p.name.endswith("_cal.fits")]
        found[instrument] = [rate, *cal]
    return found


def test_no_product_of_any_instrument_is_invalid(products, other_instruments):
    """Every product type (NIRCam, the guider's FGS _cal) and the _rate/_cal of NIRISS, MIRI,
    NIRSpec and FGS imaging open in stdatamodels without a single validation warning (the
    simulator used to write MODULE = 'N/A', which jwst's schema does not allow)."""
    paths = [*products.values(), *(p for files in other_instruments.values() for p in files)]
    assert len(paths) == len(products) + 2 * len(OTHER_INSTRUMENTS)
    for path in paths:
        model, invalid = _open(path)
        assert invalid == [], (path.name, invalid)
        model.close()


def _tree(path: Path) -> dict:
    """The ASDF extension's tree as plain YAML (tags dropped, nothing converted)."""
    import io

    import asdf

    with fits.open(path) as hdul:
        return asdf.util.load_yaml(io.BytesIO(hdul["ASDF"].data.tobytes()))


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _flat(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


def _keyword_tree(path: Path, tmp_path: Path) -> dict:
    """What stdatamodels builds from the FITS keywords alone (``read_metadata`` of a copy whose
    ASDF extension holds an empty tree), flattened."""
    from stdatamodels.jwst.datamodels import read_metadata

    from streamcal.fitsio import asdf_hdu

    copy = tmp_path / path.name
    with fits.open(path) as hdul:
        fits.HDUList([hdu for hdu in hdul if hdu.name != "ASDF"] + [asdf_hdu()]).writeto(copy, overwrite=True)
    return read_metadata(copy, flatten=True)


@pytest.mark.parametrize("suffix", sorted(JWST_CLASS))
def test_asdf_extension_is_stdatamodels_tree(products, suffix, tmp_path):
    """Every FITS product streamcal writes carries an ASDF extension whose metadata is exactly
    the tree stdatamodels builds from the file's FITS keywords (same paths, same values), its
    arrays referenced in the FITS extensions as stdatamodels writes them (``fits:SCI,1``), and
    meta.wcs exactly where the product has a WCS."""
    path = products[suffix]
    tree = _tree(path)
    ours = {k: v for k, v in _flat(tree).items() if k.startswith("meta.") and not k.startswith("meta.wcs.")}
    theirs = {k: v for k, v in _keyword_tree(path, tmp_path).items() if k.startswith("meta.")}
    assert len(ours) > 100 and ours == theirs
    assert tree["data"]["source"] == "fits:SCI,1" and tree["data"]["shape"] == list(stdatamodels.open(path).data.shape)
    assert ("wcs" in tree["meta"]) == (suffix in WITH_WCS)


def test_keyword_table_is_stdatamodels(products):
    """The keyword -> tree-path table streamcal writes trees with is the one the installed
    stdatamodels' schemas give (regenerate with streamcal.jwst_meta.generate_table)."""
    from streamcal import jwst_meta

    assert jwst_meta._TABLE.lstrip("\n") == jwst_meta.generate_table()  # noqa: SLF001 (the table itself)


@pytest.fixture(scope="module")
def jwst_on_streamcal(tmp_path_factory, refs):
    """A simulated exposure through streamcal's detector1 and image2, and streamcal's _rate
    through jwst's Image2Pipeline *by file name*: (streamcal _cal, jwst _cal)."""
    base = tmp_path_factory.mktemp("jwst_on_streamcal")
    rate = calibrate_file(_simulate(base, refs, 20), base / "stage1", refs)[0]
    ours = next(p for p in calibrate_file(rate, base / "stage2", refs, CalibrationOptions(skip=frozenset({"resample"})))
                if p.name.endswith("_cal.fits"))
    with offline_crds(base / "crds"):
        theirs = run_image2(rate, base / "jwst", refs)
    return ours, theirs


def test_jwst_image2_on_a_streamcal_rate_by_name(jwst_on_streamcal):
    """jwst's Image2Pipeline takes streamcal's _rate by file name (it reads the ASDF extension
    first) and makes the _cal streamcal makes: same NaN pattern and DQ, SCI, ERR and the three
    variances within rtol 1e-6 (measured: identical; 1e-6 is ~8 float32 roundings, room for
    an operation order that differs), WCS within 1 µas (measured 0: the same transforms)."""
    ours, theirs = (read_cal(p) for p in jwst_on_streamcal)
    assert theirs.bunit == ours.bunit == "MJy/sr" and theirs.header["S_PHOTOM"] == "COMPLETE"
    np.testing.assert_array_equal(ours.dq, theirs.dq)
    for name in ("data", "err", "var_poisson", "var_rnoise", "var_flat"):
        a, b = getattr(ours, name), getattr(theirs, name)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        good = np.isfinite(a)
        assert good.mean() > 0.99
        np.testing.assert_allclose(a[good], b[good], rtol=1e-6, err_msg=name)
    assert _sky_offset_mas(theirs.wcs, ours.wcs, ours.data.shape) < 1e-3


def test_jwst_image3_on_streamcal_cals_by_name(products, refs, tmp_path):
    """jwst's Image3Pipeline runs on an ASN naming two streamcal _cal files (tweakreg skipped,
    as for streamcal's mosaic of these 64x64 frames; source_catalog's npixels 5 for them):
    _crf per member, an _i2d covering both, its catalog and segmentation map."""
    from jwstkit import run_image3

    cals = sorted(products["cal"].parent.glob("jw01234001001_*_cal.fits"))
    for cal in cals:
        (tmp_path / cal.name).write_bytes(cal.read_bytes())
    asn = tmp_path / "jw01234-o001_image3_00001_asn.json"
    asn.write_text(json.dumps({"asn_type": "image3", "asn_rule": "Asn_Lv3Image", "asn_id": "o001",
                               "program": "01234", "asn_pool": "jw01234_pool", "products": [
                                   {"name": PRODUCT, "members": [{"expname": c.name, "exptype": "science"}
                                                                 for c in cals]}]}))
    with offline_crds(tmp_path / "crds"):
        run_image3(asn, tmp_path / "jwst", refs, {"tweakreg": {"skip": True}, "source_catalog": {"npixels": 5}})
    out = tmp_path / "jwst"
    assert len(list(out.glob("*_crf.fits"))) == len(cals) == 2
    mosaic = stdatamodels.open(out / f"{PRODUCT}_i2d.fits")
    assert np.isfinite(mosaic.data).mean() > 0.5 and mosaic.meta.cal_step.resample == "COMPLETE"
    assert (out / f"{PRODUCT}_segm.fits").is_file() and (out / f"{PRODUCT}_cat.ecsv").is_file()


# ------------------------------------------------------------------ resample's output grid

def _jwst_grid(cals: list[Path]):
    from jwst.datamodels import ModelLibrary
    from jwst.resample.resample_utils import resampled_wcs_from_models

    models = [stdatamodels.open(c) for c in cals]
    wcs, *_ = resampled_wcs_from_models(ModelLibrary(models, on_disk=False))
    return wcs


def _assert_same_grid(cals: list[Path]) -> None:
    """grid_for(as_jwst=True) on the _cal files is jwst's grid for them: shape exact, CRPIX to
    1e-6 px, CRVAL to 1e-9 deg (3.6 µas), CD to 1e-12 deg."""
    from streamcal.steps.resample import grid_for

    theirs = _jwst_grid(cals)
    ours = grid_for([read_cal(c) for c in cals], as_jwst=True)
    assert ours.shape == tuple(theirs.array_shape)
    t = theirs.forward_transform
    np.testing.assert_allclose(ours.crpix, t.crpix.value, atol=1e-6)
    np.testing.assert_allclose(ours.crval, t.crval.value, atol=1e-9)
    np.testing.assert_allclose(ours.cd, np.asarray(t.pc.value).reshape(2, 2) * t.cdelt.value[0], atol=1e-12)


def _assert_near_grid(i2d: Path, cals: list[Path]) -> None:
    """The _i2d's own (covering) grid is within 4 pixels of jwst's in size (it follows the
    edges between the corners, which the synthetic distortion bows out by up to ~3 pixels;
    jwst's joins the 4 corners) and within 2 pixels in its reference point, its CD matrix within
    1e-3 of jwst's (orientation from the local Jacobian, not ROLL_REF:
    0.013 deg apart measured)."""
    theirs = _jwst_grid(cals)
    with fits.open(i2d) as hdul:
        header, shape = hdul["SCI"].header, hdul["SCI"].data.shape
    assert all(abs(a - b) <= 4 for a, b in zip(shape, theirs.array_shape)), (shape, theirs.array_shape)
    fits_wcs = FitsWCS(header, naxis=2)
    t = theirs.forward_transform
    ra, dec = theirs(*t.crpix.value)  # jwst's reference point lands within 1 px of ours
    x, y = fits_wcs.all_world2pix([[float(ra), float(dec)]], 0)[0]
    assert np.hypot(x - (header["CRPIX1"] - 1), y - (header["CRPIX2"] - 1)) < 2.0
    np.testing.assert_allclose(fits_wcs.pixel_scale_matrix, np.asarray(t.pc.value).reshape(2, 2) * t.cdelt.value[0],
                               atol=1e-3 * t.cdelt.value[0])


def test_mosaic_grid_is_jwsts(products):
    """Two dithered NIRCam _cal files: jwst's grid reproduced; the _i2d's within a pixel of it."""
    cals = sorted(products["cal"].parent.glob("jw01234001001_*_cal.fits"))
    _assert_same_grid(cals)
    _assert_near_grid(products["i2d"], cals)


@pytest.fixture(scope="module")
def miri_full_frame(tmp_path_factory, refs):
    base = tmp_path_factory.mktemp("miri")
    raw = _simulate(base, refs, 5, detector="MIRIMAGE", exp_type="MIR_IMAGE", subarray=None)
    rate = calibrate_file(raw, base / "stage1", refs)[0]
    products = calibrate_file(rate, base / "stage2", refs)
    return rate, next(p for p in products if p.name.endswith("_cal.fits")), \
        next(p for p in products if p.name.endswith("_i2d.fits"))


def test_miri_full_frame_footprint_is_jwsts(miri_full_frame, refs, tmp_path):
    """MIRI full frame: the distortion file's valid area leaves out the 4 reference columns on
    each side, in streamcal's assign_wcs as in jwst's (same S_REGION from the same DISTORTION
    file), so the _i2d is square (not 1032 columns wide) and its grid is jwst's."""
    rate, cal, i2d = miri_full_frame
    ours = read_cal(cal)
    assert ours.wcs.bounding_box.bounding_box(order="F") == ((3.5, 1027.5), (-0.5, 1023.5))
    with offline_crds(tmp_path / "crds"):
        theirs = run_assign_wcs(rate, refs)
    assert theirs.meta.wcs.bounding_box.bounding_box(order="F") == ((3.5, 1027.5), (-0.5, 1023.5))
    ours_corners = np.array(ours.sci_header["S_REGION"].split()[2:], float)
    np.testing.assert_allclose(ours_corners, np.array(theirs.meta.wcsinfo.s_region.split()[2:], float), atol=2e-9)
    _assert_same_grid([cal])
    _assert_near_grid(i2d, [cal])
    ny, nx = read_mosaic(i2d).data.shape
    assert abs(nx - ny) <= 1 and nx < 1030  # 1032 columns minus the 8 reference columns


@pytest.mark.parametrize("suffix", ["rate", "rateints", "ramp", "dark"])
def test_plain_trees_are_written_as_asdf_writes_them(products, suffix):
    """A tree without a WCS is emitted as YAML directly (no asdf schema pass on every product);
    asdf reads it back to the same tree, ndarray references included, as asdf's own writer's."""
    import io
    import warnings

    import asdf

    from streamcal.jwst_meta import metadata_tree
    from streamcal.wcs.serialize import plain_tree_to_asdf_bytes

    with fits.open(products[suffix]) as hdul:
        tree = metadata_tree([h for h in hdul if h.name != "ASDF"])
    theirs = io.BytesIO()
    asdf.AsdfFile(tree).write_to(theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asdf accepts the file without a complaint
        with asdf.open(io.BytesIO(plain_tree_to_asdf_bytes(tree))) as ours, \
                asdf.open(io.BytesIO(theirs.getvalue())) as reference:
            assert _flat(ours.tree["meta"]) == _flat(reference.tree["meta"]) and len(_flat(ours.tree["meta"])) > 100
            arrays = [k for k in reference.tree if k not in ("asdf_library", "history", "meta")]
            assert arrays and all(type(ours.tree[k]) is type(reference.tree[k]) for k in arrays)
            assert all(ours.tree[k]._source == reference.tree[k]._source for k in arrays)
