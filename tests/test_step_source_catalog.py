"""source_catalog: synthetic APCORR/ABVEGAOFFSET, the catalog of a rendered mosaic against its
injected truth and against photutils run directly, the _cat.ecsv/_segm files, and the Parquet
dataset of catalogs."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import astropy.units as u
import numpy as np
import pyarrow.compute as pc
import pytest
from astropy.convolution import Gaussian2DKernel, convolve
from astropy.io import fits
from astropy.modeling.physical_models import BlackBody
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.table import QTable, Table
from mosaickit import gaussian_image
from photutils.aperture import CircularAperture, aperture_photometry
from photutils.detection import DAOStarFinder
from photutils.segmentation import SourceCatalog, SourceFinder
from scipy.spatial import cKDTree

from streamcal.detectors import DETECTORS
from streamcal.errors import NotImplementedStepError, ReferenceFileError
from streamcal.models import MosaicModel
from streamcal.refs import synth_catalog
from streamcal.refs.model import RefData
from streamcal.sim.scene import psf_sigma_pixels
from streamcal.sinks.catalogs import CatalogDataset, write_catalog_ecsv, write_segm
from streamcal.steps import _photometry as phot
from streamcal.steps import source_catalog as sc
from streamcal.wcs import Pointing, imaging_wcs

SCALE = 0.0311                       # NIRCam SW, arcsec/pixel
PIXAR_SR = (SCALE / 206264.806) ** 2  # sr per mosaic pixel
TO_JY = 1e6 * PIXAR_SR               # (MJy/sr) x pixel -> Jy
SHAPE = (300, 300)
POINTING = Pointing(80.0, -69.5, 86.1, -493.2, 30.0)
#: What a point source looks like in an i2d at the native scale: the simulator's PSF integrated
#: over the detector pixel (+1/12 px^2) and resampled by drizzle (+2/12 on average);
#: gaussian_image integrates over the output pixel, which supplies the detector's 1/12.
PSF_SIGMA = psf_sigma_pixels(2.0, SCALE)
I2D_SIGMA = math.sqrt(PSF_SIGMA ** 2 + 2 / 12)


def _mosaic(data: np.ndarray, noise: float, *, filt: str = "F200W", detector: str = "NRCA1") -> MosaicModel:
    ny, nx = data.shape
    header = fits.Header({"INSTRUME": "NIRCAM", "DETECTOR": detector, "FILTER": filt, "PUPIL": "CLEAR",
                          "EXP_TYPE": "NRC_IMAGE", "SUBARRAY": "SUB400P"})
    return MosaicModel(header=header, data=data.astype(np.float32),
                       err=np.full(data.shape, noise, np.float32), wht=np.ones(data.shape, np.float32),
                       con=np.ones((1, ny, nx), np.int32),
                       wcs=imaging_wcs(POINTING, shape=data.shape, pixel_scale=SCALE),
                       sci_header=fits.Header({"PIXAR_SR": PIXAR_SR}))


@pytest.fixture(scope="module")
def field():
    """60 stars (flux 20..2000 MJy/sr x pixel, S/N 30..3000 in the aperture for noise 0.05) and
    one extended galaxy on a sky of 0.3 MJy/sr."""
    rng = np.random.default_rng(7)
    n = 60
    xy = np.column_stack([rng.uniform(20, SHAPE[1] - 20, n), rng.uniform(20, SHAPE[0] - 20, n)])
    galaxy = (150.0, 150.0)
    # keep stars apart (> 12 px) and off the galaxy (> 30 px) so apertures and annuli see one source
    keep = [i for i in range(n) if all(np.hypot(*(xy[i] - xy[j])) > 12 for j in range(i))
            and np.hypot(*(xy[i] - np.array(galaxy))) > 30]
    xy = xy[keep]
    flux = 10 ** rng.uniform(1.3, 3.3, len(xy))
    data = np.full(SHAPE, 0.3)
    for (x, y), f in zip(xy, flux):
        data += gaussian_image(SHAPE, x, y, f, I2D_SIGMA)
    data += gaussian_image(SHAPE, *galaxy, 3000.0, 6.0)
    noise = 0.05
    data += rng.normal(0, noise, SHAPE)
    return {"xy": xy, "flux": flux, "galaxy": galaxy, "mosaic": _mosaic(data, noise), "noise": noise}


@pytest.fixture(scope="module")
def catalog_run(field, refs):
    mosaic = field["mosaic"]
    meta = sc.catalog_meta(mosaic)
    found = {k: refs.get(k, meta) for k in sc.REFTYPES}
    result, report = sc.run(mosaic, found, sc.Params(bkg_boxsize=100))
    return result, report, found


def _match(cat: QTable, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each true star: distance to, and index of, the nearest catalog source."""
    tree = cKDTree(np.column_stack([cat["xcentroid"], cat["ycentroid"]]))
    return tree.query(xy)


# ------------------------------------------------------------------------- references

def test_apcorr_radii_enclose_their_energy_in_a_rendered_i2d():
    """Yardstick: photutils aperture photometry of a rendered i2d point source.  The aperture of
    the EE-x% row keeps x % of the flux within 1 % (the PSF model is shared; the residual is the
    Gaussian-of-boxes approximation and sub-pixel phase), and x apcorr restores the total."""
    rows = [r for r in synth_catalog.apcorr_rows(DETECTORS["NRCA1"]) if r["filter"] == "F200W"]
    image = gaussian_image((41, 41), 20.3, 19.8, 1000.0, I2D_SIGMA)
    for row in rows:
        measured = aperture_photometry(image, CircularAperture((20.3, 19.8), row["radius"]))["aperture_sum"][0]
        assert measured / 1000.0 == pytest.approx(row["eefraction"], rel=0.01)
        assert measured * row["apcorr"] == pytest.approx(1000.0, rel=0.01)


def test_apcorr_table_layout_per_instrument():
    """jwst layouts: NIRCam/NIRISS keyed by filter+pupil, MIRI by filter+subarray, FGS no key;
    EE 0.2..0.8, one sky annulus per optical element outside 5 sigma."""
    for name, key in (("NRCA1", ("filter", "pupil")), ("NIS", ("filter", "pupil")),
                      ("MIRIMAGE", ("filter", "subarray")), ("GUIDER1", ())):
        _, tables, extra = synth_catalog.build_apcorr(DETECTORS[name])[1:]
        names = tables["APCORR"].columns.names
        assert names == list(key) + ["eefraction", "radius", "apcorr", "skyin", "skyout"]
        assert extra["SUBARRAY"] == "GENERIC"
    miri = synth_catalog.apcorr_rows(DETECTORS["MIRIMAGE"])
    assert {r["subarray"] for r in miri} >= {"FULL", "SUB128"}
    assert sorted({r["eefraction"] for r in miri}) == list(synth_catalog.EE_FRACTIONS)


def test_abvega_offset_is_the_black_body_vega_zero_point():
    """Independent yardstick: astropy's BlackBody (9550 K) scaled to 3640 Jy at 0.55 um gives
    F_Vega(lambda); m_AB - m_Vega = 2.5 log10(3631 Jy / F_Vega)."""
    bb = BlackBody(9550 * u.K)
    scale = 3640.0 / bb(0.55 * u.um).value
    for lam in (0.9, 2.0, 4.44, 15.0):
        vega = scale * bb(lam * u.um).value
        assert synth_catalog.abvega_offset(lam) == pytest.approx(2.5 * math.log10(3631.0 / vega), abs=1e-6)
    rows = {r["filter"]: r["abvega_offset"] for r in synth_catalog.abvega_rows(DETECTORS["NRCA1"])}
    assert rows["F070W"] < rows["F200W"] < rows["F444W"]          # Vega is blue
    fgs = synth_catalog.abvega_rows(DETECTORS["GUIDER1"])
    assert [r["detector"] for r in fgs] == ["GUIDER1", "GUIDER2"]


def test_reference_selection_and_errors(refs, field):
    """The synthetic set serves both types; the APCORR row is chosen by filter/pupil and the
    radii shrink by PXSCLRT (smaller output pixels -> more pixels per arcsec)."""
    meta = sc.catalog_meta(field["mosaic"])
    apcorr = refs.get("apcorr", meta)
    one = sc.aperture_params(apcorr, meta, (30, 50, 70))
    half = sc.aperture_params(apcorr, meta, (30, 50, 70), pixel_scale_ratio=0.5)
    assert np.allclose(np.array(half.radii), 2 * np.array(one.radii))
    assert half.skyin == 2 * one.skyin and half.apcorr == one.apcorr
    assert one.radii[0] < one.radii[1] < one.radii[2]
    bad = sc.catalog_meta(_mosaic(np.zeros((8, 8)), 1.0, filt="F999W"))
    with pytest.raises(ReferenceFileError, match="no row"):
        sc.aperture_params(apcorr, bad, (30, 50, 70))
    with pytest.raises(ReferenceFileError, match="EE 35"):
        sc.aperture_params(apcorr, meta, (30, 35, 70))
    assert sc.abvega_offset(refs.get("abvegaoffset", meta), meta) == pytest.approx(
        synth_catalog.abvega_offset(2.0), abs=1e-5)


def test_catalog_meta_picks_a_detector_for_multi_detector_mosaics():
    """A NIRCam i2d of several detectors (DETECTOR=MULTIPLE) uses the channel's first detector."""
    assert sc.catalog_meta(_mosaic(np.zeros((8, 8)), 1.0, detector="MULTIPLE")).detector == "NRCA1"
    assert sc.catalog_meta(_mosaic(np.zeros((8, 8)), 1.0, filt="F444W", detector="MULTIPLE")).detector == "NRCALONG"


def test_pixel_area_from_the_wcs_when_pixar_sr_is_absent(field):
    """Without PIXAR_SR the solid angle comes from the WCS: (0.0311")^2 to 1e-6 (TAN plane
    at the tangent point)."""
    mosaic = field["mosaic"]
    bare = MosaicModel(header=mosaic.header, data=mosaic.data, err=mosaic.err, wht=mosaic.wht,
                       con=mosaic.con, wcs=mosaic.wcs)
    assert sc.pixel_area_sr(bare) == pytest.approx(PIXAR_SR, rel=1e-6)
    assert sc.pixel_area_sr(mosaic) == PIXAR_SR


# ----------------------------------------------------------------------- against truth

def test_catalog_finds_every_star_where_it_is(field, catalog_run):
    """Every injected star is found within 0.1 px, plus the galaxy; no other detections (a
    3-sigma threshold over 25 connected pixels on white noise finds none).  The faintest star
    (20 MJy/sr x pix, S/N ~30 in its isophote) has a centroid error of ~ sigma / S/N x sqrt(2)
    ~ 0.05 px: 0.1 px is twice that; the median must be better than 0.01 px."""
    result, report, _ = catalog_run
    cat = result.catalog
    dist, idx = _match(cat, field["xy"])
    assert dist.max() < 0.1 and np.median(dist) < 0.01
    assert len(set(idx)) == len(field["xy"])
    assert len(cat) == len(field["xy"]) + 1
    assert report.status == "COMPLETE" and f"{len(cat)} sources" in report.note


def test_aperture_corrected_flux_matches_truth(field, catalog_run):
    """aper_total_flux (Jy) / truth: median within 0.5 %, every star within 5 % (faintest have
    S/N ~30 in the aperture: 3 % noise); isophotal fluxes of bright stars within 2 % (the
    isophote misses the faint wings)."""
    cat = catalog_run[0].catalog
    dist, idx = _match(cat, field["xy"])
    truth_jy = field["flux"] * TO_JY
    ratio = cat["aper_total_flux"][idx].to_value(u.Jy) / truth_jy
    assert np.median(ratio) == pytest.approx(1.0, abs=0.005)
    assert np.all(np.abs(ratio - 1) < 0.05)
    bright = field["flux"] > 500
    iso = cat["isophotal_flux"][idx].to_value(u.Jy) / truth_jy
    assert np.median(iso[bright]) == pytest.approx(1.0, abs=0.02)
    # the local background is the 0.3 MJy/sr sky, per pixel in Jy
    assert np.median(cat["aper_bkg_flux"].to_value(u.Jy)) == pytest.approx(0.3 * TO_JY, rel=0.01)


def test_magnitudes_concentration_and_classification(field, catalog_run):
    """AB = -2.5 log10(F/Jy) + 8.9, Vega = AB - offset, CI = aperture flux ratios.  With the
    Gaussian-PSF radii a point source has CI_50_30 = 50/30 = 1.67 and CI_70_50 = 1.40 exactly
    and a flat source the area ratios ln(0.5)/ln(0.7) = 1.94 and ln(0.3)/ln(0.5) = 1.74, both
    under jwst's default thresholds (2.0, 1.8, tuned to real PSF wings): nothing is extended
    with the defaults, and thresholds between (1.8, 1.6) separate the galaxy from the stars."""
    result, _, found = catalog_run
    cat = result.catalog
    offset = result.meta["abvega_offset"]
    flux = cat["aper_total_flux"].to_value(u.Jy)
    good = flux > 0
    assert np.allclose(cat["aper_total_abmag"][good], -2.5 * np.log10(flux[good]) + 8.9)
    assert np.allclose(cat["aper_total_vegamag"][good], cat["aper_total_abmag"][good] - offset)
    assert np.allclose(cat["CI_50_30"], cat["aper50_flux"] / cat["aper30_flux"])
    assert np.allclose(cat["CI_70_30"], cat["aper70_flux"] / cat["aper30_flux"])
    _, idx = _match(cat, field["xy"])
    gal = int(_match(cat, np.array([field["galaxy"]]))[1][0])
    assert np.median(cat["CI_50_30"][idx]) == pytest.approx(5 / 3, rel=0.01)
    assert np.median(cat["CI_70_50"][idx]) == pytest.approx(7 / 5, rel=0.01)
    assert 1.8 < cat["CI_50_30"][gal] < 1.95 and 1.6 < cat["CI_70_50"][gal] < 1.75
    assert not np.any(cat["is_extended"])
    mosaic, found = field["mosaic"], catalog_run[2]
    tuned = sc.run(mosaic, found, sc.Params(bkg_boxsize=100, ci1_star_threshold=1.8, ci2_star_threshold=1.6))[0]
    assert np.flatnonzero(tuned.catalog["is_extended"]).tolist() == [gal]
    assert cat["semimajor_sigma"][gal].to_value(u.pix) == pytest.approx(6.0, rel=0.15)


def test_columns_units_and_sky_positions(field, catalog_run):
    """The jwst column list in order, Jy/pix/deg units, sky_centroid = WCS(centroid)."""
    cat = catalog_run[0].catalog
    assert cat.colnames == phot.column_names((30, 50, 70))
    assert cat["aper70_flux"].unit == u.Jy and cat["nn_dist"].unit == u.pix
    assert cat["orientation"].unit == u.deg and cat["isophotal_area"].unit == u.pix ** 2
    ra, dec = field["mosaic"].wcs(cat["xcentroid"], cat["ycentroid"])
    assert np.allclose(cat["sky_centroid"].ra.deg, ra, atol=1e-9)
    assert np.allclose(cat["sky_centroid"].dec.deg, dec, atol=1e-9)
    ll = cat["sky_bbox_ll"]
    assert np.all(np.isfinite(ll.ra.deg))
    # nearest neighbours, brute force
    xy = np.column_stack([cat["xcentroid"], cat["ycentroid"]])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(cat["nn_dist"].to_value(u.pix), d.min(axis=1))
    assert np.array_equal(cat["nn_label"], cat["label"][d.argmin(axis=1)])


def test_segmentation_equals_photutils_run_directly(field, catalog_run):
    """The same parameters given to photutils by hand (Background2D already known: the image
    minus the flat 0.3 sky, threshold 3 x 0.05) give the same sources: centroids to 0.02 px
    and isophotal fluxes to 1 % (our background is estimated, not known: a 1e-3 MJy/sr error
    over the galaxy's ~2000-pixel isophote moves its centroid ~0.01 px)."""
    mosaic = field["mosaic"]
    data = (mosaic.data.astype(float) - 0.3) * TO_JY
    conv = convolve(data, Gaussian2DKernel(2.0 * gaussian_fwhm_to_sigma))
    segm = SourceFinder(25, deblend=True, n_levels=32, contrast=0.001, progress_bar=False)(conv, 3 * 0.05 * TO_JY)
    direct = SourceCatalog(data, segm, convolved_data=conv)
    cat = catalog_run[0].catalog
    assert len(direct) == len(cat)
    tree = cKDTree(np.column_stack([cat["xcentroid"], cat["ycentroid"]]))
    dist, idx = tree.query(np.column_stack([direct.x_centroid, direct.y_centroid]))
    assert dist.max() < 0.02
    assert np.allclose(cat["isophotal_flux"][idx].to_value(u.Jy), direct.segment_flux, rtol=0.01)
    assert catalog_run[0].segm.dtype == np.int32 and catalog_run[0].segm.max() == len(cat)


def test_sharpness_and_roundness_match_daofind():
    """Yardstick: photutils DAOStarFinder on an isolated star at a pixel centre (its statistics
    are computed on the same zero-sum kernel): sharpness and roundness1 agree to 1e-6."""
    image = gaussian_image((41, 41), 20.0, 20.0, 1000.0, 1.3)
    found = DAOStarFinder(threshold=1.0, fwhm=2.5, sharpness_range=None, roundness_range=None)(image)
    sharp, round_ = phot.daofind_stats(image, np.array([[20.0, 20.0]]), 2.5)
    assert sharp[0] == pytest.approx(float(found["sharpness"][0]), abs=1e-6)
    assert round_[0] == pytest.approx(float(found["roundness1"][0]), abs=1e-6)


def test_empty_mosaic_gives_an_empty_catalog(refs):
    """Pure noise: no source, an empty catalog with the jwst columns and no segmentation map."""
    mosaic = _mosaic(np.random.default_rng(3).normal(0, 1, (64, 64)), 1.0)
    meta = sc.catalog_meta(mosaic)
    result, report = sc.run(mosaic, {k: refs.get(k, meta) for k in sc.REFTYPES}, sc.Params(bkg_boxsize=32))
    assert len(result.catalog) == 0 and result.segm is None
    assert "no sources" in report.note
    assert set(result.catalog.colnames) <= set(phot.column_names((30, 50, 70)))


def test_refuses_what_it_does_not_do(field, catalog_run):
    """Only the segmentation finder; only MJy/sr input; EE must increase."""
    found = catalog_run[2]
    with pytest.raises(NotImplementedStepError, match="segmentation"):
        sc.run(field["mosaic"], found, sc.Params(starfinder="dao"))
    rate = _mosaic(np.zeros((16, 16)), 1.0)
    rate.bunit = "DN/s"
    with pytest.raises(ValueError, match="MJy/sr"):
        sc.run(rate, found, sc.Params())
    with pytest.raises(ValueError, match="increasing"):
        sc.Params(aperture_ee2=20)
    assert sc.run(rate, found, sc.Params(skip=True))[1].status == "SKIPPED"


def test_abmag_of_negative_flux_is_nan():
    mag, err = phot.flux_to_abmag(np.array([3631.0, 1.0, -2.0]), np.array([0.0, 0.1, 0.1]))
    # jwst's zero point 8.9 is -2.5 log10(3631) = 8.90007 rounded: 3631 Jy is -7e-5 mag
    assert mag[0] == pytest.approx(0.0, abs=1e-4) and mag[1] == pytest.approx(8.9)
    assert err[1] == pytest.approx(2.5 * math.log10(1.1))
    assert np.isnan(mag[2]) and np.isnan(err[2])


def test_user_reference_directory_with_jwst_layouts(tmp_path, field):
    """A user's reference directory holding an ABVEGAOFFSET in jwst's ASDF layout (tree
    ``abvega_offset`` table) and an APCORR FITS table: both are indexed, selected for the
    mosaic and read by the step (drop-in for CRDS files)."""
    from astropy.time import Time

    from streamcal.refs import ReferenceSet
    from streamcal.refs.asdf_io import write_asdf_reffile
    from streamcal.refs.generate import build

    meta_tree = {"reftype": "ABVEGAOFFSET", "instrument": {"name": "NIRCAM"}, "useafter": "2022-01-01T00:00:00",
                 "pedigree": "GROUND", "author": "test", "description": "jwst layout", "date": Time.now().isot}
    table = Table({"filter": ["F200W", "F444W"], "pupil": ["CLEAR", "CLEAR"], "abvega_offset": [1.7, 3.2]})
    write_asdf_reffile({"meta": meta_tree, "abvega_offset": table}, tmp_path / "jwst_nircam_abvegaoffset_0001.asdf")
    _, hdul = build("apcorr", DETECTORS["NRCA1"])
    hdul[0].header["DETECTOR"] = "ANY"          # CRDS APCORR files hold every detector
    hdul.writeto(tmp_path / "jwst_nircam_apcorr_0001.fits")
    user = ReferenceSet(tmp_path)
    meta = sc.catalog_meta(field["mosaic"])
    abvega, apcorr = user.get("abvegaoffset", meta), user.get("apcorr", meta)
    assert abvega.path.endswith(".asdf") and apcorr.path.endswith("apcorr_0001.fits")
    assert sc.abvega_offset(abvega, meta) == pytest.approx(1.7)
    assert sc.aperture_params(apcorr, meta, (30, 50, 70)).apcorr[1] == pytest.approx(2.0, rel=1e-3)
    tree_only = RefData(reftype="abvegaoffset", path="x.asdf", header=fits.Header(), tree={})
    with pytest.raises(ReferenceFileError, match="no ABVEGA_OFFSET"):
        sc.abvega_offset(tree_only, meta)


@pytest.mark.parametrize("module", ["streamcal.refs.synth_catalog", "streamcal.steps._photometry",
                                    "streamcal.steps.source_catalog", "streamcal.steps._sources",
                                    "streamcal.sinks.catalogs"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0


# ------------------------------------------------------------------------------ files

def test_ecsv_and_segm_files_round_trip(tmp_path, catalog_run):
    result = catalog_run[0]
    path = write_catalog_ecsv(result.catalog, tmp_path / "p_cat.ecsv", {"SC_VER": "test"})
    back = QTable.read(path)
    assert back.colnames == result.catalog.colnames
    assert back.meta["SC_VER"] == "test" and "SC_VER" not in result.catalog.meta
    assert np.allclose(back["aper_total_flux"].to_value(u.Jy), result.catalog["aper_total_flux"].to_value(u.Jy))
    assert back["sky_centroid"].ra.deg[0] == pytest.approx(result.catalog["sky_centroid"].ra.deg[0])
    segm = write_segm(result.segm, tmp_path / "p_segm.fits", fits.Header({"PRODUCT": "p"}))
    with fits.open(segm) as hdul:
        assert hdul[0].header["DATAMODL"] == "SegmentationMapModel"
        assert np.array_equal(hdul["SCI"].data, result.segm)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_parquet_dataset_query_across_two_products(tmp_path, catalog_run):
    """Two products' catalogs in one dataset: a filter on magnitude and product across both;
    a remade product replaces its older catalog in read() (latest=True)."""
    cat = catalog_run[0].catalog
    dataset = CatalogDataset(tmp_path / "catalogs")
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    dataset.append(cat, "jw01234-o001_t001_nircam_clear-f200w", created_at=t0)
    dataset.append(cat[:10], "jw01234-o002_t001_nircam_clear-f200w", created_at=t0)
    table = dataset.read()
    assert table.num_rows == len(cat) + 10
    assert {"sky_centroid_ra", "sky_centroid_dec", "product", "created_at"} <= set(table.column_names)
    assert table.schema.field("aper_total_flux").metadata[b"unit"] == b"Jy"
    limit = float(np.nanmedian(cat["aper_total_abmag"]))
    bright = dataset.read(filter=pc.field("aper_total_abmag") < limit, columns=["label", "aper_total_abmag"])
    expected = int(np.sum(cat["aper_total_abmag"] < limit) + np.sum(cat["aper_total_abmag"][:10] < limit))
    assert bright.num_rows == expected
    assert set(bright.column_names) == {"label", "aper_total_abmag", "product", "created_at"}
    dataset.append(cat[:3], "jw01234-o002_t001_nircam_clear-f200w", created_at=t0 + timedelta(minutes=5))
    per_product = dataset.read().group_by("product").aggregate([("label", "count")]).to_pylist()
    assert {r["product"]: r["label_count"] for r in per_product} == {
        "jw01234-o001_t001_nircam_clear-f200w": len(cat), "jw01234-o002_t001_nircam_clear-f200w": 3}
    assert dataset.read(latest=False).num_rows == len(cat) + 13
    assert not [p for p in (tmp_path / "catalogs").iterdir() if p.name.startswith(".")]
    with pytest.raises(ValueError, match="product"):
        dataset.append(cat, "")
