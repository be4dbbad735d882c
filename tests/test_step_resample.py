"""resample: the output grid, drizzle combination, weights, variances, context (jwst_spec §4.1).

Yardsticks: injected truth (star fluxes and sky positions rendered through each image's own
WCS), the drizzle package called directly, and hand-worked variance algebra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from drizzle.resample import Drizzle
from drizzle.utils import calc_pixmap

from streamcal import dqflags
from streamcal.errors import BadInputError, NotImplementedStepError
from streamcal.fitsio import read_mosaic, write_mosaic
from streamcal.models import MosaicModel
from streamcal.provenance import Provenance, StepRecord
from streamcal.steps import get_step
from streamcal.steps.base import make_params
from streamcal.steps.resample import (DrizzleInput, Params, exposure_group_id, grid_for, input_weight,
                                      resample_images, run)
from streamcal.steps.resample.grid import (OutputGrid, footprint, orientation, output_grid, parse_s_region,
                                          sky_center)
from streamcal.steps.resample.pixmap import caching_pixmaps, pixmap
from streamcal.wcs import s_region

from conftest import extdata
from mosaickit import POINTING, SCALE, cal_image, dither, offset_pointing, star_field, with_header


def _moment(image: np.ndarray, x: float, y: float, half: int = 8) -> tuple[float, float]:
    """Flux-weighted centroid in a (2 half + 1)^2 box around (x, y) (background is zero)."""
    ix, iy = int(round(x)), int(round(y))
    box = image[iy - half:iy + half + 1, ix - half:ix + half + 1].astype(np.float64)
    yy, xx = np.mgrid[iy - half:iy + half + 1, ix - half:ix + half + 1]
    return float((box * xx).sum() / box.sum()), float((box * yy).sum() / box.sum())


class TestGrid:
    def test_jwsts_corner_convention_and_first_input_scale(self):
        """The default grid is jwst's (stcal ``wcs_from_sregions``): the lowest footprint corner
        lies on the centre of pixel 0 along each axis and the size is the far corner rounded to
        the nearest pixel, so the far corners lie within half a pixel of the far pixel edge (in
        [n - 1/2, n + 1/2)) and every input pixel at least overlaps the output.  (It used to
        assert that every input edge is inside, which held for streamcal's old covering grid,
        not for jwst's.)  The output pixel keeps the input scale (pixel_scale_ratio 1) to 1e-5,
        not exactly: V2/V3 are angles on a sphere, so 0.031"/pix in V2/V3 becomes ~1.4e-6
        smaller on the tangent plane 0.14 deg from the V2/V3 origin."""
        images = dither(3)
        grid = grid_for(images)
        assert grid.pixel_scale_deg * 3600 == pytest.approx(SCALE, rel=1e-5)
        gw = grid.gwcs()
        corners = np.vstack([parse_s_region(s_region(m.wcs, m.data.shape)) for m in images])
        x, y = gw.invert(corners[:, 0], corners[:, 1], with_bounding_box=False)
        ny, nx = grid.shape
        assert (x.min(), y.min()) == pytest.approx((0.0, 0.0), abs=1e-6)
        assert nx - 0.5 - 1e-6 <= x.max() < nx + 0.5 and ny - 0.5 - 1e-6 <= y.max() < ny + 0.5
        for image in images:
            h, w = image.data.shape
            border = np.r_[np.arange(w), np.full(h, w - 1), np.arange(w), np.zeros(h)]
            rows = np.r_[np.zeros(w), np.arange(h), np.full(w, h - 1), np.arange(h)]
            cx, cy = gw.invert(*image.wcs(border, rows), with_bounding_box=False)
            assert cx.min() > -1.0 and cx.max() < nx and cy.min() > -1.0 and cy.max() < ny

    def test_covering_grid_on_request(self):
        """``as_jwst=False`` (and inputs without pointing keywords) get the covering grid: every
        input pixel edge inside, 1e-3 px slack for a sliver not worth a row."""
        images = dither(3)
        grid = grid_for(images, as_jwst=False)
        gw = grid.gwcs()
        for image in images:
            x, y = gw.invert(*footprint(image.wcs, image.data.shape), with_bounding_box=False)
            assert x.min() >= -0.5 - 1e-3 and x.max() <= grid.shape[1] - 0.5 + 1e-3
            assert y.min() >= -0.5 - 1e-3 and y.max() <= grid.shape[0] - 0.5 + 1e-3

    def test_rotation_zero_is_north_up_east_left(self):
        grid = grid_for([cal_image()], Params(rotation=0.0))
        gw = grid.gwcs()
        x0, y0 = grid.crpix                 # the column through CRVAL is a meridian
        ra0, dec0 = gw(x0, y0)
        ra_up, dec_up = gw(x0, y0 + 1.0)    # +y: north, same RA
        ra_right, _ = gw(x0 + 1.0, y0)      # +x: west (RA decreases)
        assert abs(ra_up - ra0) < 1e-10 and dec_up - dec0 == pytest.approx(SCALE / 3600, rel=1e-5)
        assert ra_right < ra0

    def test_user_shape_scale_crpix_crval(self):
        grid = grid_for([cal_image()], make_params(Params, "resample", {
            "output_shape": "50,40", "pixel_scale": "0.062", "crpix": "10,12", "crval": "80.0,-69.5"}))
        assert grid.shape == (40, 50)  # output_shape is jwst's (nx, ny)
        assert grid.pixel_scale_deg * 3600 == pytest.approx(0.062)
        ra, dec = grid.gwcs()(10.0, 12.0)
        assert (ra, dec) == pytest.approx((80.0, -69.5), abs=1e-12)
        # the SCI-header FITS WCS is the same projection (astropy reads it: 1-based CRPIX)
        assert grid.fits_wcs().all_pix2world([[10.0, 12.0]], 0)[0] == pytest.approx([80.0, -69.5], abs=1e-12)

    def test_too_small_raises(self):
        with pytest.raises(ValueError, match="too small"):
            output_grid([cal_image().wcs], [(160, 180)], output_shape=(1, 5))


class TestParams:
    def test_strings_from_the_command_line(self):
        p = make_params(Params, "resample", {"crpix": "1.5 2", "rotation": "none", "pixfrac": "0.8"})
        assert p.crpix == (1.5, 2.0) and p.rotation is None and p.pixfrac == 0.8

    @pytest.mark.parametrize("values, match", [({"kernel": "boxcar"}, "kernel"), ({"pixfrac": 0.0}, "pixfrac"),
                                               ({"weight_type": "ivm-sky"}, "weight_type"),
                                               ({"crval": (1.0,)}, "two values"), ({"fillval": "x"}, "fillval")])
    def test_bad_values(self, values, match):
        with pytest.raises(ValueError, match=match):
            Params(**values)

    def test_step_contract(self):
        step = get_step("resample")
        assert (step.NAME, step.STATUS_KEYWORD, step.REFTYPES) == ("resample", "S_RESAMP", ())


class TestFluxAndPosition:
    stars = star_field(6, radius_arcsec=1.6, seed=3)

    @pytest.mark.parametrize("ratio, rotation", [(1.0, 37.0), (0.6, None), (1.5, 200.0)])
    def test_flux_conserved(self, ratio, rotation):
        """sum(SB x pixel area) is preserved (< 0.1 %): drizzle's square kernel shares each input
        pixel's flux by exact overlap areas; zero sky, so partially covered edge pixels (whose SB
        is a weighted mean, not a flux) do not enter."""
        image = cal_image(offset_pointing(0.1, -0.2), stars=self.stars)
        flux_in = image.data.astype(np.float64).sum() * SCALE ** 2
        mosaic = resample_images([image], Params(pixel_scale_ratio=ratio, rotation=rotation))
        out_scale = SCALE * ratio
        flux_out = np.nansum(mosaic.data.astype(np.float64)) * out_scale ** 2
        assert flux_out == pytest.approx(flux_in, rel=1e-3)
        assert mosaic.header["PXSCLRT"] == pytest.approx(ratio, rel=1e-6)

    def test_point_source_position_kept(self):
        """A star keeps its sky position through a rotated, shifted output grid: its centroid in
        the mosaic equals the grid WCS position of the injected RA/Dec to < 0.01 px.  A wide
        PSF (sigma 2 px) and a 17 x 17 box keep the truncation of the moment below 1e-3 px."""
        ra, dec = POINTING.ra_ref + 0.3 / 3600, POINTING.dec_ref - 0.2 / 3600
        image = cal_image(offset_pointing(0.37, -0.21, droll_deg=11.0), stars=[(ra, dec, 1000.0)],
                          psf_sigma=2.0)
        mosaic = resample_images([image], Params(rotation=63.0, crval=(ra + 1e-5, dec - 2e-5)))
        x_true, y_true = mosaic.wcs.invert(ra, dec)
        x_c, y_c = _moment(mosaic.data, float(x_true), float(y_true))
        assert math.hypot(x_c - x_true, y_c - y_true) < 0.01


class TestWeightsAndErrors:
    def test_variance_of_the_mean(self):
        """N aligned inputs with identical noise sigma^2: ivm weights are equal, so
        VAR_RNOISE = sum(w^2 var) / (sum w)^2 = sigma^2 / N exactly; the scatter of the mosaic
        SCI agrees within 4 % (sample-variance error sqrt(2/n) ~ 0.5 % for n ~ 29000 pixels).
        The output grid is put on the input pixels (CRVAL at an input pixel centre), so drizzle
        copies pixels and adds no correlation; jwst's default grid would put them half a pixel
        off, where each output pixel averages 4 inputs and the scatter is ~1/4 of the variance
        (the old covering grid happened to be pixel-aligned, so this test did not say so)."""
        sigma, n = 0.2, 4
        images = [cal_image(noise=sigma, rng=np.random.default_rng(k), name=f"n{k}_cal.fits", exposure=k)
                  for k in range(n)]
        ny, nx = images[0].data.shape
        centre = tuple(float(v) for v in images[0].wcs(nx // 2, ny // 2))
        mosaic = resample_images(images, Params(output_shape=(nx, ny), crpix=(nx // 2, ny // 2), crval=centre))
        inner = (slice(2, -2), slice(2, -2))
        assert np.allclose(mosaic.var_rnoise[inner], sigma ** 2 / n, rtol=1e-5)
        assert np.allclose(mosaic.err[inner] ** 2, sigma ** 2 / n, rtol=1e-5)  # VAR_POISSON, VAR_FLAT are 0
        assert np.var(mosaic.data[inner]) == pytest.approx(sigma ** 2 / n, rel=0.04)

    def test_ivm_weighting_favours_the_quiet_image(self):
        """Two aligned images, values 1 and 3, VAR_RNOISE 1 and 3: the ivm mean is
        (1/1 + 3/3) / (1/1 + 1/3) = 1.5 and its variance (1 + 3/9) / (4/3)^2 = 0.75."""
        a, b = cal_image(name="a_cal.fits"), cal_image(name="b_cal.fits", exposure=2)
        a.data[:] = 1.0
        b.data[:] = 3.0
        a.var_rnoise[:] = 1.0
        b.var_rnoise[:] = 3.0
        mosaic = resample_images([a, b])
        assert np.allclose(mosaic.data[5:-5, 5:-5], 1.5, rtol=1e-6)
        assert np.allclose(mosaic.var_rnoise[5:-5, 5:-5], 0.75, rtol=1e-6)
        exptime = resample_images([a, b], Params(weight_type="exptime"))
        assert np.allclose(exptime.data[5:-5, 5:-5], 2.0, rtol=1e-6)  # equal EFFEXPTM: plain mean

    def test_bad_dq_and_nan_get_no_weight(self):
        a, b = cal_image(name="a_cal.fits"), cal_image(name="b_cal.fits", exposure=2)
        a.data[:] = b.data[:] = 2.0
        a.data[50, 60] = 1e6
        a.dq[50, 60] = dqflags.DO_NOT_USE
        a.data[40, 30] = np.nan
        b.dq[70, 80] = dqflags.SATURATED  # not a bad bit for resample: still used
        mosaic = resample_images([a, b])
        assert np.allclose(mosaic.data[3:-3, 3:-3], 2.0, rtol=1e-6)
        w = input_weight(DrizzleInput(a.data, a.dq, a.wcs, {"var_rnoise": a.var_rnoise}), "ivm")
        assert w[50, 60] == 0 and w[40, 30] == 0 and w[0, 0] == pytest.approx(1 / a.var_rnoise[0, 0])

    def test_skymatch_level_subtracted_unless_already(self):
        image = cal_image(sky=5.0)
        assert np.nanmedian(resample_images([with_header(image, BKGLEVEL=4.0, BKGSUB=False)]).data) == pytest.approx(1.0)
        assert np.nanmedian(resample_images([with_header(image, BKGLEVEL=4.0, BKGSUB=True)]).data) == pytest.approx(5.0)


class TestContext:
    def test_bits_follow_coverage(self):
        """Bit k of CON is set exactly where input k covers the output pixel (checked away from
        the input edges, where partial overlaps make coverage a matter of drizzle's rounding)."""
        images = dither(3, step_arcsec=1.0)
        mosaic = resample_images(images)
        ny, nx = mosaic.data.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        ra, dec = mosaic.wcs(xx.astype(float), yy.astype(float))
        for k, image in enumerate(images):
            x, y = image.wcs.invert(ra, dec, with_bounding_box=False)
            h, w = image.data.shape
            inside = (x > 0.5) & (x < w - 1.5) & (y > 0.5) & (y < h - 1.5)
            outside = (x < -1.5) | (x > w + 0.5) | (y < -1.5) | (y > h + 0.5)
            bit = (mosaic.con[0] >> k) & 1
            assert np.all(bit[inside] == 1) and np.all(bit[outside] == 0)
        assert mosaic.members == [m.meta.filename for m in images]

    def test_more_than_32_inputs_use_a_second_plane(self):
        images = [cal_image(shape=(12, 12), name=f"i{k}_cal.fits", exposure=k) for k in range(34)]
        mosaic = resample_images(images, Params(enable_err=False))
        assert mosaic.con.shape == (2, 12, 12) and mosaic.con.dtype == np.int32
        assert mosaic.con[0, 6, 6] == -1            # inputs 0..31: all 32 bits (int32)
        assert mosaic.con[1, 6, 6] == 0b11          # inputs 32, 33


def test_matches_drizzle_called_directly():
    """On a tiny case, SCI and WHT equal the drizzle package driven by hand with the same
    pixel maps and ivm weights (1/VAR_RNOISE, 0 on DO_NOT_USE), to float32 rounding."""
    rng = np.random.default_rng(7)
    images = [cal_image(offset_pointing(0.05 * k, -0.04 * k, droll_deg=3.0 * k), shape=(24, 30),
                        noise=0.1 + 0.05 * k, rng=rng, name=f"t{k}_cal.fits", exposure=k) for k in range(2)]
    images[1].dq[5, 7] = dqflags.DO_NOT_USE
    mosaic = resample_images(images, Params(pixfrac=0.7, kernel="square"))
    driz = Drizzle(kernel="square", fillval=np.nan, out_shape=mosaic.data.shape)
    for image in images:
        weight = np.where(image.dq & dqflags.DO_NOT_USE, 0.0, 1.0 / image.var_rnoise).astype(np.float32)
        driz.add_image(image.data, exptime=1.0, pixmap=calc_pixmap(image.wcs, mosaic.wcs, image.data.shape),
                       weight_map=weight, pixfrac=0.7)
    np.testing.assert_allclose(mosaic.data, driz.out_img, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_allclose(mosaic.wht, driz.out_wht, rtol=1e-6)


def test_two_processes_equal_one():
    """maximum_cores 2 (streamcal.parallel): inputs 0-1 and 2-4 are drizzled in two processes
    and merged by weight.  Drizzle is linear, so the mosaic equals the serial one up to float32
    rounding of the running weighted means (rtol 1e-6 on SCI/ERR/VAR_*, relative to each
    array's typical size); WHT adds exactly as floats do, CON bits are global and identical."""
    images = dither(5, stars=star_field(8, seed=2), noise=0.05, sky=0.2, var_poisson=0.01)
    images[3].dq[20:24, 30:34] = dqflags.DO_NOT_USE
    serial = resample_images(images, Params())
    split = resample_images(images, Params(maximum_cores="2"))
    assert np.array_equal(np.isnan(serial.data), np.isnan(split.data)) and np.isnan(serial.data).any()
    np.testing.assert_array_equal(serial.con, split.con)
    np.testing.assert_allclose(split.wht, serial.wht, rtol=1e-6)
    for name in ("data", "err", "var_rnoise", "var_poisson"):
        a, b = getattr(serial, name), getattr(split, name)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6 * np.nanmax(np.abs(a)), equal_nan=True, err_msg=name)


def test_run_adapter_and_headers():
    image = cal_image()
    mosaic, report = run(image, {}, Params())
    assert isinstance(mosaic, MosaicModel) and report.status == "COMPLETE"
    assert mosaic.bunit == "MJy/sr" and mosaic.sci_header["CTYPE1"] == "RA---TAN"
    assert mosaic.sci_header["PIXAR_A2"] == pytest.approx(SCALE ** 2, rel=1e-5)
    assert mosaic.header["NDRIZ"] == 1 and mosaic.header["RESWHT"] == "ivm"
    cube = cal_image()
    cube.data = np.stack([cube.data, cube.data])
    with pytest.raises(NotImplementedStepError, match="3-D"):
        run(cube, {}, Params())
    no_wcs = cal_image()
    no_wcs.wcs = None
    with pytest.raises(ValueError, match="assign_wcs"):
        resample_images([no_wcs])


def test_exposure_group_id():
    image = cal_image(exposure=3)
    assert exposure_group_id(image.header) == "jw01234001001_01101_00003"
    assert exposure_group_id(image.header.__class__(), "fallback") == "fallback"


def stdatamodels_wcs(path):
    """``meta.wcs`` of the file's ASDF tree (None when it holds none)."""
    import io

    import asdf
    from astropy.io import fits as _fits

    with _fits.open(path) as hdul:
        raw = io.BytesIO(hdul["ASDF"].data["ASDF_METADATA"][0].tobytes())
    with asdf.open(raw) as af:
        return af.tree.get("meta", {}).get("wcs")


class TestMosaicFile:
    """write_mosaic / read_mosaic: the jwst i2d layout, round trip, hostile input."""

    def test_round_trip(self, tmp_path):
        images = dither(3)
        mosaic = resample_images(images)
        prov = Provenance("calwebb_image3", "x_asn.json", "0" * 64, steps=[StepRecord("resample", "COMPLETE", "S_RESAMP")])
        path = write_mosaic(mosaic, tmp_path / "p_i2d.fits", prov, [m.header for m in images])
        with fits.open(path) as hdul:
            names = [h.name for h in hdul]
            assert names[:8] == ["PRIMARY", "SCI", "ERR", "CON", "WHT", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"]
            assert {"HDRTAB", "PROVENANCE", "ASDF"} <= set(names)
            assert list(hdul["HDRTAB"].data["EXPOSURE"]) == ["1", "2", "3"]
            assert hdul["CON"].header["BITPIX"] == 32  # int32
            assert hdul[0].header["S_RESAMP"] == "COMPLETE"
            # astropy reads the SCI header's TAN WCS; it agrees with the stored gwcs (< 1e-9 deg)
            fits_world = WCS(hdul["SCI"].header).all_pix2world([[3.0, 7.0], [100.0, 50.0]], 0)
        back = read_mosaic(path)
        for name in ("data", "err", "wht", "con", "var_rnoise", "var_poisson", "var_flat"):
            np.testing.assert_array_equal(getattr(back, name), getattr(mosaic, name))
        assert back.members == mosaic.members and back.bunit == "MJy/sr"
        gw = np.array(back.wcs([3.0, 100.0], [7.0, 50.0])).T
        np.testing.assert_allclose(gw, fits_world, atol=1e-9)

    def test_single_input_and_no_asdf(self, tmp_path):
        mosaic = resample_images([cal_image(name="one_cal.fits")])
        mosaic.wcs = None  # as a file without a gwcs: the TAN header is used
        path = write_mosaic(mosaic, tmp_path / "one_i2d.fits")
        with fits.open(path) as hdul:
            # every product carries jwst's ASDF metadata tree; without a gwcs it has no meta.wcs
            assert "HDRTAB" not in hdul and "ASDF" in hdul
        assert stdatamodels_wcs(path) is None
        back = read_mosaic(path)
        assert back.members == ["one_cal.fits"]
        grid = grid_for([cal_image()])
        assert np.allclose(back.wcs(5.0, 6.0), grid.gwcs()(5.0, 6.0), atol=1e-10)

    def test_hostile_input(self, tmp_path):
        junk = tmp_path / "junk_i2d.fits"
        junk.write_bytes(b"not a fits file" * 100)
        with pytest.raises(BadInputError, match="not a readable FITS"):
            read_mosaic(junk)
        cube = tmp_path / "cube_i2d.fits"
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 3, 4), np.float32), name="SCI")]).writeto(cube)
        with pytest.raises(BadInputError, match="2-D SCI"):
            read_mosaic(cube)
        bad_asdf = tmp_path / "asdf_i2d.fits"
        col = fits.Column("ASDF_METADATA", format="5B", array=np.array([[1, 2, 3, 4, 5]], np.uint8))
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((3, 4), np.float32), name="SCI"),
                      fits.BinTableHDU.from_columns([col], name="ASDF")]).writeto(bad_asdf)
        with pytest.raises(BadInputError, match="ASDF"):
            read_mosaic(bad_asdf)

    def test_reads_a_real_jwst_i2d(self):
        path = extdata("fits", "jw01288015001_04101_00001_mirimage_i2d.fits")
        mosaic = read_mosaic(path)
        assert mosaic.data.shape == (129, 137) and mosaic.con.shape == (1, 129, 137)
        # the jwst gwcs and the SCI-header FITS WCS agree at the centre (< 0.01 px worth)
        fits_world = WCS(fits.getheader(path, "SCI")).all_pix2world([[68.0, 64.0]], 0)[0]
        assert np.allclose(mosaic.wcs(68.0, 64.0), fits_world, atol=0.01 * 0.11 / 3600)


class TestPixmap:
    def test_interpolated_map_matches_the_exact_one(self):
        """Every 10th pixel + a bicubic spline reproduces the exact map of a rotated, shifted
        image to 1e-6 px (measured 1e-8 on the full-frame synthetic NIRCam distortion)."""
        images = dither(2)
        images[1] = cal_image(offset_pointing(0.4, 0.2, droll_deg=7.0))
        grid = grid_for(images)
        exact = pixmap(images[1].wcs, grid, images[1].data.shape)
        sparse = pixmap(images[1].wcs, grid, images[1].data.shape, stepsize=10, order=3)
        assert np.abs(sparse - exact).max() < 1e-6
        a = resample_images(images)
        b = resample_images(images, Params(pixmap_stepsize=10, pixmap_order=3))
        np.testing.assert_allclose(a.data, b.data, atol=1e-5, equal_nan=True)

    def test_cache_only_inside_a_run(self):
        image = cal_image()
        grid = grid_for([image])
        assert pixmap(image.wcs, grid, image.data.shape) is not pixmap(image.wcs, grid, image.data.shape)
        with caching_pixmaps():
            first = pixmap(image.wcs, grid, image.data.shape)
            assert pixmap(image.wcs, grid, image.data.shape) is first
            assert pixmap(image.wcs, grid, image.data.shape, stepsize=10) is not first
        assert pixmap(image.wcs, grid, image.data.shape) is not first


@pytest.mark.parametrize("ratio", [1.0, 0.7])
def test_agrees_with_stcal_resample(ratio):
    """stcal's Resample (the library jwst 3.0 drives; used here as an oracle only) on the same
    inputs, output WCS, ivm weights and good bits gives the same SCI, WHT, CON, VAR_* and ERR
    (float32 rounding: rtol 1e-5).  stcal is handed our pixel-scale ratio (PXSCLRT): on its
    own it measures the output pixel from a spherical-polygon area, which for a grid this small
    is only good to ~1e-4."""
    from stcal.resample import Resample

    rng = np.random.default_rng(3)
    images = [cal_image(offset_pointing(0.11 * k, -0.07 * k, droll_deg=2.0 * k), shape=(40, 50), noise=0.1,
                        rng=rng, name=f"s{k}_cal.fits", exposure=k, var_poisson=0.002 * (k + 1)) for k in range(3)]
    for image in images:  # photom's nominal pixel area: both sides take the input pixel scale from it
        image.sci_header["PIXAR_SR"] = (SCALE / 206264.806) ** 2
    images[0].var_flat[:] = 0.001
    images[2].dq[10, 10] = dqflags.DO_NOT_USE
    images[1].header["BKGLEVEL"], images[1].header["BKGSUB"] = 0.3, False
    mosaic = resample_images(images, Params(pixfrac=0.8, pixel_scale_ratio=ratio))
    oracle = Resample({"wcs": mosaic.wcs, "pixel_scale_ratio": mosaic.header["PXSCLRT"]}, n_input_models=3, pixfrac=0.8, kernel="square", fillval=np.nan,
                      weight_type="ivm", good_bits=~(dqflags.DO_NOT_USE | dqflags.NON_SCIENCE) & 0xFFFFFFFF,
                      enable_ctx=True, enable_var=True, compute_err="from_var")
    for k, image in enumerate(images):
        oracle.add_model({
            "data": image.data, "dq": image.dq, "var_rnoise": image.var_rnoise, "var_poisson": image.var_poisson,
            "var_flat": image.var_flat, "filename": image.meta.filename, "group_id": str(k), "wcs": image.wcs,
            "exposure_time": 100.0, "start_time": 0.0, "end_time": 1.0, "duration": 100.0,
            "measurement_time": 100.0, "pixelarea_steradians": (SCALE / 206264.806) ** 2,
            "level": image.header.get("BKGLEVEL"), "subtracted": False})
    oracle.finalize()
    out = oracle.output_model
    for ours, theirs in ((mosaic.data, out["data"]), (mosaic.wht, out["wht"]), (mosaic.err, out["err"]),
                         (mosaic.var_rnoise, out["var_rnoise"]), (mosaic.var_poisson, out["var_poisson"]),
                         (mosaic.var_flat, out["var_flat"])):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(mosaic.con, np.atleast_3d(out["con"]).reshape(mosaic.con.shape))


class TestGridHelpers:
    def test_sky_center_wraps_at_ra_zero(self):
        """Points at RA 359.9 and 0.1 (Dec 0) centre on RA 0, not 180."""
        lon, lat = sky_center(np.array([359.9, 0.1]), np.array([0.0, 0.0]))
        assert min(lon, 360 - lon) < 1e-9 and abs(lat) < 1e-9

    @pytest.mark.parametrize("parity", [-1, 1])
    def test_orientation(self, parity):
        """PA 90: +y points east (xi > 0); the x axis is 90 deg from it, on the side the parity
        says (det = parity)."""
        pc = orientation(90.0, parity)
        assert pc[:, 1] == pytest.approx([1.0, 0.0], abs=1e-12)
        assert np.linalg.det(pc) == pytest.approx(parity)

    def test_s_region_and_fits_header_round_trip(self):
        grid = grid_for([cal_image()], Params(rotation=20.0))
        corners = np.array(grid.s_region().split()[2:], float).reshape(4, 2)
        x, y = grid.gwcs().invert(corners[:, 0], corners[:, 1], with_bounding_box=False)
        ny, nx = grid.shape
        # S_REGION has 9 decimals of a degree (3.6e-6" = 1e-4 px)
        np.testing.assert_allclose(x, [-0.5, nx - 0.5, nx - 0.5, -0.5], atol=2e-4)
        np.testing.assert_allclose(y, [-0.5, -0.5, ny - 0.5, ny - 0.5], atol=2e-4)
        back = OutputGrid.from_fits_header(grid.fits_header(), grid.shape)
        assert back.crval == pytest.approx(grid.crval) and back.crpix == pytest.approx(grid.crpix)
        np.testing.assert_allclose(back.cd, grid.cd, rtol=1e-12)


def test_doctests():
    import doctest

    import streamcal.steps.resample.drizzle as module

    assert doctest.testmod(module).failed == 0
