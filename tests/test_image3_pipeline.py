"""calwebb_image3: the pipeline in memory and file to files (jwst_spec §5.1, §7).

Yardsticks: a dithered star field with known pointing errors and injected cosmic rays, the same
field without the hits, and the jwst product names."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table

from streamcal import dqflags
from streamcal.errors import BadInputError, NotImplementedStepError
from streamcal.fitsio import read_cal, read_mosaic, write_cal
from streamcal.pipelines.image2 import write_tweakreg_catalog
from streamcal.pipelines.image3 import UNNAMED_MISSING, calibrate_image3_file, crf_name, run_image3
from streamcal.provenance import Provenance
from streamcal.pipelines import CalibrationOptions, calibrate_file
from streamcal.sinks.catalogs import CatalogDataset
from streamcal.steps.resample import resample_images

from mosaickit import dither, inject_crs, star_field, with_header

#: Header pointing minus true pointing, arcsec, per exposure (tweakreg's job).
POINTING_ERRORS = [(0.0, 0.0), (0.15, -0.1), (-0.2, 0.1), (0.05, 0.2)]
PRODUCT = "jw01234-o001_t001_nircam_clear-f200w"


def _field(with_crs: bool):
    """4 x (300 x 300) images of 35 stars >= 1.2" apart (tweakreg's separation is 1"), noise
    0.05, sky 0.2; with 60 hits per image anywhere (also on stars) when asked."""
    stars = star_field(40, seed=5, flux=(20.0, 400.0), radius_arcsec=4.0, min_sep_arcsec=1.2)
    images = dither(4, stars=stars, noise=0.05, sky=0.2, shape=(300, 300), pointing_errors=POINTING_ERRORS)
    masks = inject_crs(images, stars, per_image=60, clearance=0.0) if with_crs else None
    return images, masks, stars


@pytest.fixture(scope="module")
def hit_field():
    return _field(True)


@pytest.fixture(scope="module")
def run(refs, hit_field):
    clean, _, stars = _field(False)
    images, masks, _ = hit_field
    result = run_image3(images, refs, product=PRODUCT)
    return images, clean, masks, stars, result


class TestInMemory:
    def test_steps_in_order(self, run):
        *_, result = run
        steps = [(s.name, s.status) for s in result.provenance.steps]
        assert steps == [("assign_mtwcs", "SKIPPED"), ("tweakreg", "COMPLETE"), ("skymatch", "COMPLETE"),
                         ("outlier_detection", "COMPLETE"), ("resample", "COMPLETE"), ("source_catalog", "COMPLETE")]
        assert "exposure groups" in result.provenance.steps[0].note and len(result.groups) == 4

    def test_tweakreg_removed_the_pointing_errors(self, run):
        """The aligned WCS of every image puts the stars where they were rendered: the image
        centre maps to the true sky position to < 0.02" (tweakreg's own accuracy is tested by
        its module; here: the correction reaches the mosaic)."""
        images, clean, _, _, result = run
        truth = dither(4, shape=(300, 300))  # the same pattern without pointing errors
        for model, true in zip(result.crf, truth):
            a = np.array(model.wcs(150.0, 150.0))
            b = np.array(true.wcs(150.0, 150.0))
            assert np.hypot((a[0] - b[0]) * np.cos(np.radians(b[1])), a[1] - b[1]) * 3600 < 0.02

    def test_no_cosmic_ray_left_in_the_mosaic(self, run):
        """Against the mosaic of the hit-free images drizzled with the same WCSs and the same
        DQ (so only missed hits differ): nowhere that >= 3 exposures overlap is a pixel off by
        more than 5 sigma.  Besides the hits, < 5e-4 of the pixels are flagged (measured 1.1e-4:
        neighbours of hits on star cores, which the median drizzled onto jwst's grid and blotted
        back underestimates, and a hit of one exposure reaching the median where only 2 overlap;
        the old pixel-aligned grid happened to flag nothing but hits here)."""
        images, clean, masks, _, result = run
        reference = resample_images([replace(c, wcs=r.wcs, header=r.header, dq=r.dq)
                                     for c, r in zip(clean, result.crf)])
        z = (result.mosaic.data - reference.data) / result.mosaic.err
        overlap = sum((result.mosaic.con[0] >> k) & 1 for k in range(4)) >= 3
        assert np.nanmax(np.abs(z[overlap])) < 5
        flagged = sum(int(np.count_nonzero(m.dq & dqflags.OUTLIER)) for m in result.crf)
        clean = sum(int((~m).sum()) for m in masks)
        extra = sum(int(np.count_nonzero((r.dq & dqflags.OUTLIER) & ~m)) for r, m in zip(result.crf, masks))
        assert flagged >= sum(int(m.sum()) for m in masks) // 2 and extra < 5e-4 * clean

    def test_catalog_finds_the_stars(self, run):
        """>= 90 % of the rendered stars (all S/N > 100) have a catalog source within 0.05"."""
        *_, stars, result = run
        cat = result.catalog.catalog
        ra = cat["sky_centroid"].ra.deg
        dec = cat["sky_centroid"].dec.deg
        found = 0
        for s_ra, s_dec, _ in stars:
            sep = np.hypot((ra - s_ra) * np.cos(np.radians(s_dec)), dec - s_dec) * 3600
            found += sep.min() < 0.05
        assert found >= 0.9 * len(stars)
        assert result.catalog.segm.shape == result.mosaic.data.shape

    def test_inputs_not_modified(self, run):
        images, *_ = run
        assert not np.any(images[0].dq & dqflags.OUTLIER) and "BKGLEVEL" not in images[0].header


def test_single_input_runs_resample_and_catalog(refs):
    image = dither(1, stars=star_field(10, seed=2), noise=0.05)[0]
    result = run_image3([image], refs, product="single")
    assert [s.name for s in result.provenance.steps] == ["resample", "source_catalog"]
    assert result.crf == [] and result.mosaic.members == [image.meta.filename]


def test_moving_target_is_not_implemented(refs):
    images = [with_header(m, TARGTYPE="MOVING") for m in dither(2)]
    with pytest.raises(NotImplementedStepError, match="moving"):
        run_image3(images, refs)


def test_step_parameters_and_skips(refs):
    images = dither(2, noise=0.05)
    options = CalibrationOptions(skip=frozenset({"tweakreg", "source_catalog"}),
                                 step_values={"resample": {"pixfrac": "0.8"}})
    result = run_image3(images, refs, options)
    assert result.mosaic.header["PIXFRAC"] == 0.8 and result.catalog is None
    with pytest.raises(ValueError, match="no step"):
        run_image3(images, refs, CalibrationOptions(skip=frozenset({"jump"})))


# ------------------------------------------------------------------------------- files

def _write_asn(directory, names, asn_id="o001", product=PRODUCT):
    asn = {"asn_type": "image3", "asn_rule": "Asn_Lv3Image", "asn_id": asn_id, "program": "01234",
           "asn_pool": "jw01234_pool", "products": [{"name": product, "members": [
               {"expname": name, "exptype": "science"} for name in names]}]}
    path = directory / f"jw01234-{asn_id}_image3_00001_asn.json"
    path.write_text(json.dumps(asn))
    return path


@pytest.fixture(scope="module")
def landed(tmp_path_factory, hit_field):
    """The hit field written as _cal files beside an image3 ASN."""
    land = tmp_path_factory.mktemp("landing")
    images, _, _ = hit_field
    for image in images:
        write_cal(image, land / image.meta.filename)
    return land, [m.meta.filename for m in images]


class TestFiles:
    def test_products_named_as_jwst(self, landed, refs, tmp_path):
        land, names = landed
        asn = _write_asn(land, names)
        written = calibrate_image3_file(asn, tmp_path, refs, allowed_roots=[land],
                                        catalog_dataset=tmp_path / "catalogs")
        expected = [f"{PRODUCT}_i2d.fits", f"{PRODUCT}_cat.ecsv", f"{PRODUCT}_segm.fits"] + [
            crf_name(n, "o001") for n in names]   # written in this order: the mosaic first
        assert [p.name for p in written] == expected
        assert expected[3] == "jw01234001001_01101_00001_nrca1_o001_crf.fits"
        mosaic = read_mosaic(tmp_path / f"{PRODUCT}_i2d.fits")
        assert mosaic.members == names and mosaic.header["ASNPART"] is False
        assert mosaic.header["S_OUTLIR"] == "COMPLETE" and mosaic.header["ASNTABLE"] == asn.name
        crf = read_cal(tmp_path / expected[3])
        assert np.any(crf.dq & dqflags.OUTLIER) and crf.wcs is not None
        # a crf records the steps up to outlier_detection only (it is written there in jwst)
        assert crf.header["S_OUTLIR"] == "COMPLETE" and "S_RESAMP" not in crf.header
        cat = QTable.read(tmp_path / f"{PRODUCT}_cat.ecsv")
        assert len(cat) > 20 and "aper_total_flux" in cat.colnames
        with fits.open(tmp_path / f"{PRODUCT}_segm.fits") as hdul:
            assert hdul["SCI"].data.shape == mosaic.data.shape and hdul["SCI"].data.max() == len(cat)
        rows = CatalogDataset(tmp_path / "catalogs").read()
        assert rows.num_rows == len(cat) and set(rows.column("product").to_pylist()) == {PRODUCT}

    def test_partial_association(self, landed, refs, tmp_path):
        """A member that has not landed: an error unless partial=True, which marks the products."""
        land, names = landed
        asn = _write_asn(land, names[:3] + ["jw01234001001_01101_00009_nrca1_cal.fits"], asn_id="o002")
        with pytest.raises(BadInputError, match="missing"):
            calibrate_image3_file(asn, tmp_path, refs, allowed_roots=[land])
        assert list(tmp_path.iterdir()) == []
        options = CalibrationOptions(skip=frozenset({"source_catalog"}))
        written = calibrate_image3_file(asn, tmp_path, refs, allowed_roots=[land], partial=True, options=options)
        assert len(written) == 4  # 3 crf + i2d
        header = fits.getheader(tmp_path / f"{PRODUCT}_i2d.fits")
        assert header["ASNPART"] is True and header["ASNMISS"] == "jw01234001001_01101_00009_nrca1_cal.fits"
        # the stream's header-based candidates list only the members that landed
        unnamed = _write_asn(land, names[:3], asn_id="o007")
        calibrate_image3_file(unnamed, tmp_path, refs, allowed_roots=[land], partial=True, options=options)
        header = fits.getheader(tmp_path / f"{PRODUCT}_i2d.fits")
        assert header["ASNPART"] is True and header["ASNMISS"] == UNNAMED_MISSING

    def test_members_only_inside_allowed_roots(self, landed, refs, tmp_path):
        land, names = landed
        asn = _write_asn(land, ["../elsewhere_cal.fits"], asn_id="o003")
        with pytest.raises(BadInputError, match="outside"):
            calibrate_image3_file(asn, tmp_path, refs, allowed_roots=[land])
        bad = land / "bad_asn.json"
        bad.write_text('{"products": [}')
        with pytest.raises(BadInputError, match="JSON"):
            calibrate_image3_file(bad, tmp_path, refs, allowed_roots=[land])

    def test_member_tweakreg_catalogs(self, landed, refs, tmp_path):
        """Members naming a ``tweakreg_catalog`` (made with each cal, as the stream does) are
        aligned from those catalogs with use_custom_catalogs; a catalog path outside the
        allowed roots is refused like a member path."""
        land, names = landed
        for name in names:
            write_tweakreg_catalog(read_cal(land / name), land / name.replace("_cal.fits", "_cat.ecsv"),
                                   Provenance("calwebb_image2", name, ""))
        short = land / names[1].replace("_cal.fits", "_cat.ecsv")  # proves the files are used
        Table.read(short, format="ascii.ecsv")[:3].write(short, format="ascii.ecsv", overwrite=True)
        asn = json.loads(_write_asn(land, names, asn_id="o006").read_text())
        for member in asn["products"][0]["members"]:
            member["tweakreg_catalog"] = member["expname"].replace("_cal.fits", "_cat.ecsv")
        path = land / "jw01234-o006_image3_00001_asn.json"
        path.write_text(json.dumps(asn))
        options = CalibrationOptions(skip=frozenset({"source_catalog"}),
                                     step_values={"tweakreg": {"use_custom_catalogs": True}})
        calibrate_image3_file(path, tmp_path, refs, allowed_roots=[land], options=options)
        with fits.open(tmp_path / f"{PRODUCT}_i2d.fits") as hdul:
            assert hdul[0].header["S_TWKREG"] == "COMPLETE"
            note = next(r["NOTE"] for r in hdul["PROVENANCE"].data if r["STEP"] == "tweakreg")
        assert f"{names[1]}: FAILED: not enough matches" in note and note.count("matches") == 3
        asn["products"][0]["members"][0]["tweakreg_catalog"] = "../outside_cat.ecsv"
        path.write_text(json.dumps(asn))
        with pytest.raises(BadInputError, match="tweakreg_catalog"):
            calibrate_image3_file(path, tmp_path, refs, allowed_roots=[land], options=options)

    def test_calibrate_file_runs_an_image3_asn(self, landed, refs, tmp_path):
        """``streamcal calibrate X_asn.json`` dispatches on asn_type: image3 runs, other
        level-3 types say their pipeline is missing."""
        land, names = landed
        asn = _write_asn(land, names[:2], asn_id="o004")
        options = CalibrationOptions(skip=frozenset({"source_catalog", "tweakreg"}))
        written = calibrate_file(asn, tmp_path, refs, options)
        assert [p.name for p in written][0] == f"{PRODUCT}_i2d.fits"
        spec3 = land / "jw01234-o005_spec3_00001_asn.json"
        spec3.write_text(asn.read_text().replace('"image3"', '"spec3"'))
        with pytest.raises(NotImplementedStepError, match="spec3"):
            calibrate_file(spec3, tmp_path, refs)


def test_pipeline_reads_the_absolute_reference_catalog(refs):
    """tweakreg.abs_refcat is read by the pipeline (the step reads no file): a Gaia name is
    refused with the offline reason before any step runs."""
    with pytest.raises(ValueError, match="offline"):
        run_image3(dither(2, noise=0.05), refs, CalibrationOptions(step_values={"tweakreg": {"abs_refcat": "GAIADR3"}}))


def test_parameter_set_and_user_override(refs):
    """image3's parameter set interpolates pixel maps; a user's --set wins over it."""
    images = dither(2, noise=0.05)
    skip = frozenset({"tweakreg", "source_catalog", "skymatch", "outlier_detection"})
    result = run_image3(images, refs, CalibrationOptions(skip=skip))
    resample = next(s for s in result.provenance.steps if s.name == "resample")
    assert resample.parameters["pixmap_stepsize"] == 10.0 and resample.parameters["pixmap_order"] == 3
    exact = run_image3(images, refs, CalibrationOptions(skip=skip, step_values={"resample": {"pixmap_stepsize": "1"}}))
    resample = next(s for s in exact.provenance.steps if s.name == "resample")
    assert resample.parameters["pixmap_stepsize"] == 1.0
    np.testing.assert_allclose(result.mosaic.data, exact.mosaic.data, atol=1e-5, equal_nan=True)


# ------------------------------------------------------------ the _i2d grid is jwst's

@pytest.fixture(scope="module")
def simulated_cals(tmp_path_factory, refs):
    """A 3-point NIRCam SUB160P dither with pointing errors, through detector1 and image2:
    the ``_cal`` files (S_REGION, pointing keywords and gwcs as assign_wcs writes them) and
    image2's quick-look ``_i2d`` of the first."""
    from streamcal.sim.program import simulate_dither

    base = tmp_path_factory.mktemp("jwstgrid")
    sim = simulate_dither(base / "raw", subarray="SUB160P", npoints=3, star_count=30, ngroups=4, seed=4,
                          refs=refs, pointing_error_arcsec=0.5)
    cals, quicklook = [], None
    for raw in sim.paths:
        rate = calibrate_file(raw, base / "rate", refs)[0]
        written = calibrate_file(rate, base / "cal", refs)
        cals.append(next(p for p in written if p.name.endswith("_cal.fits")))
        quicklook = quicklook or next(p for p in written if p.name.endswith("_i2d.fits"))
    return base, cals, quicklook


def _jwst_grid(cals):
    """jwst 3.0's output WCS for these files (``resampled_wcs_from_models``, default parameters)."""
    datamodels = pytest.importorskip("stdatamodels.jwst.datamodels", reason="stdatamodels is a test dependency")
    from jwst.datamodels import ModelLibrary
    from jwst.resample.resample_utils import resampled_wcs_from_models

    wcs, *_ = resampled_wcs_from_models(ModelLibrary([datamodels.open(c) for c in cals], on_disk=False))
    return wcs


def _assert_i2d_grid_is(i2d, theirs):
    """The _i2d's shape, its SCI header's TAN WCS and its ASDF gwcs are jwst's grid: shape
    exact, CRPIX to 1e-6 px, CRVAL to 1e-9 deg, CD to 1e-12 deg, PIXAR_SR its pixel area."""
    from astropy.wcs import WCS as FitsWCS

    t = theirs.forward_transform
    cd = np.asarray(t.pc.value).reshape(2, 2) * t.cdelt.value[0]
    with fits.open(i2d) as hdul:
        header, shape = hdul["SCI"].header, hdul["SCI"].data.shape
    assert shape == tuple(theirs.array_shape)
    np.testing.assert_allclose([header["CRPIX1"] - 1, header["CRPIX2"] - 1], t.crpix.value, atol=1e-6)
    np.testing.assert_allclose([header["CRVAL1"], header["CRVAL2"]], t.crval.value, atol=1e-9)
    np.testing.assert_allclose(FitsWCS(header, naxis=2).pixel_scale_matrix, cd, atol=1e-12)
    assert header["PIXAR_SR"] == pytest.approx(abs(np.linalg.det(cd)) * (np.pi / 180) ** 2, rel=1e-9)
    ny, nx = shape
    x, y = np.meshgrid(np.linspace(0, nx - 1, 5), np.linspace(0, ny - 1, 5))
    np.testing.assert_allclose(np.array(read_mosaic(i2d).wcs(x, y)), np.array(theirs(x, y)), atol=1e-10)


def test_i2d_grid_is_jwsts(simulated_cals, refs, tmp_path):
    """image3 on the dither (tweakreg skipped, so the mosaic is built from exactly these WCSs)
    and image2's quick look make their _i2d on the grid jwst 3.0 computes for the same _cal
    files: same shape, reference pixel, reference point and CD matrix."""
    base, cals, quicklook = simulated_cals
    asn = _write_asn(base / "cal", [c.name for c in cals])
    options = CalibrationOptions(skip=frozenset({"tweakreg", "source_catalog"}))
    written = calibrate_image3_file(asn, tmp_path, refs, allowed_roots=[base / "cal"], options=options)
    _assert_i2d_grid_is(written[0], _jwst_grid(cals))
    _assert_i2d_grid_is(quicklook, _jwst_grid(cals[:1]))
