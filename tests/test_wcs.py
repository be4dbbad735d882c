"""The imaging gwcs (streamcal.wcs): frames, the V2/V3 -> sky rotation against spherical
geometry done independently with astropy SkyCoord, velocity aberration, distortion models,
ASDF round trip, FITS SIP and S_REGION, tweakwcs compatibility."""

from __future__ import annotations

import io

import asdf
import numpy as np
import pytest
import tweakwcs
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS as FitsWCS

from streamcal.wcs import (MissingPointingError, Pointing, exposure_wcs, filter_offset, imaging_wcs,
                           pointing_from_header, replace_wcs_cards, s_region, sip_cards, v2v3_to_sky,
                           velocity_aberration, wcs_from_asdf_bytes, wcs_to_asdf_bytes)
from streamcal.wcs.distortion import polynomial_distortion

MAS = 1e-3 / 3600.0  # one milliarcsecond in degrees


def sky_by_spherical_geometry(p: Pointing, v2, v3):
    """Independent yardstick: where V2/V3 (arcsec) land on the sky.  In the V frame (V2 as
    longitude, V3 as latitude) take the separation and position angle (from +V3 towards +V2) of
    the point from (V2_REF, V3_REF); a rotation keeps both, and turns +V3 to position angle
    ROLL_REF on the sky, so the point lies at that separation, position angle + ROLL_REF, from
    (RA_REF, DEC_REF)."""
    ref_v = SkyCoord(p.v2_ref * u.arcsec, p.v3_ref * u.arcsec)
    pts_v = SkyCoord(np.asarray(v2) * u.arcsec, np.asarray(v3) * u.arcsec)
    sep, pa = ref_v.separation(pts_v), ref_v.position_angle(pts_v)
    out = SkyCoord(p.ra_ref * u.deg, p.dec_ref * u.deg).directional_offset_by(pa + p.roll_ref * u.deg, sep)
    return out.ra.deg, out.dec.deg


def angular_error_deg(ra1, dec1, ra2, dec2):
    return SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg


POINTINGS = [Pointing(53.1625, -27.7914, 120.6, -527.5, 30.0, -0.56),
             Pointing(359.99, 0.5, -453.6, -373.8, 250.0, 4.45),          # RA wraps through 0
             Pointing(266.4, -89.2, 206.407, -697.765, 123.4, -1.2412)]   # 0.8 deg from the pole


@pytest.mark.parametrize("p", POINTINGS)
def test_sky_rotation_matches_spherical_geometry(p):
    # reference point exactly to RA_REF/DEC_REF; points up to 2 arcmin away within 1 uas
    rot = v2v3_to_sky(p)
    ra0, dec0 = rot(p.v2_ref, p.v3_ref)
    assert abs(dec0 - p.dec_ref) < 1e-10 and abs((ra0 - p.ra_ref + 180) % 360 - 180) < 1e-10
    rng = np.random.default_rng(1)
    v2 = p.v2_ref + rng.uniform(-120, 120, 50)
    v3 = p.v3_ref + rng.uniform(-120, 120, 50)
    ra, dec = rot(v2, v3)
    ra_t, dec_t = sky_by_spherical_geometry(p, v2, v3)
    assert angular_error_deg(ra, dec, ra_t, dec_t).max() < 1e-3 * MAS


def test_roll_turns_v3_to_position_angle():
    # +V3 at ROLL_REF = 0 points north, at 90 east; +V2 is 90 deg further (east at roll 0)
    north = v2v3_to_sky(Pointing(80.0, 0.0, 86.1, -493.2, 0.0))(86.1, -493.2 + 36.0)
    east = v2v3_to_sky(Pointing(80.0, 0.0, 86.1, -493.2, 90.0))(86.1, -493.2 + 36.0)
    v2_east = v2v3_to_sky(Pointing(80.0, 0.0, 86.1, -493.2, 0.0))(86.1 + 36.0, -493.2)
    assert north[0] == pytest.approx(80.0, abs=1e-9) and north[1] == pytest.approx(0.01, abs=1e-9)
    assert east[0] == pytest.approx(80.01, abs=1e-9) and east[1] == pytest.approx(0.0, abs=1e-9)
    assert v2_east[0] == pytest.approx(80.01, abs=1e-7)


def test_velocity_aberration_scales_about_reference():
    # v' = v_ref + s (v - v_ref): the reference point stays, 100" away moves by 100 (s - 1)
    m = velocity_aberration(1.0001, 120.0, -500.0)
    assert m(120.0, -500.0) == pytest.approx((120.0, -500.0), abs=1e-12)
    assert m(220.0, -500.0)[0] == pytest.approx(220.01, abs=1e-9)
    assert velocity_aberration(1.0, 1.0, 2.0)(3.0, 4.0) == (3.0, 4.0)
    with pytest.raises(ValueError):
        velocity_aberration(0.0, 1.0, 1.0)


def test_pointing_from_header():
    h = fits.Header({"RA_REF": 10.0, "DEC_REF": -5.0, "V2_REF": 86.1, "V3_REF": -493.2, "ROLL_REF": 30.0,
                     "V3I_YANG": -0.56, "VPARITY": -1, "VA_SCALE": 1.00003})
    p = pointing_from_header(h)
    assert (p.ra_ref, p.v3yangle, p.vparity, p.va_scale) == (10.0, -0.56, -1, 1.00003)
    assert pointing_from_header(fits.Header(p.to_cards())) == p
    del h["ROLL_REF"]
    with pytest.raises(MissingPointingError, match="ROLL_REF"):
        pointing_from_header(h)


def _distortion():
    # 1.4 px (quadratic) and ~2 px (cubic) at the corners of a 2048 x 2048 detector
    return polynomial_distortion(x_ref=1023.5, y_ref=1023.5, scale=0.031,
                                 dx_terms={"c2_0": 1.3e-6, "c1_1": -0.8e-6, "c3_0": 1e-9, "c1_2": 1e-9},
                                 dy_terms={"c0_2": 1.2e-6, "c0_3": 1e-9, "c2_1": 1e-9},
                                 v2_ref=120.6, v3_ref=-527.5, v3yangle=-0.56)


def test_distortion_model_reference_point_scale_and_inverse():
    d = _distortion()
    assert d(1023.5, 1023.5) == pytest.approx((120.6, -527.5), abs=1e-12)
    # one pixel along +x at the reference point: 0.031" (exact: no linear distortion terms)
    v2a, v3a = d(1023.5, 1023.5)
    v2b, v3b = d(1024.5, 1023.5)
    assert np.hypot(v2b - v2a, v3b - v3a) == pytest.approx(0.031, rel=1e-5)
    x, y = np.meshgrid(np.linspace(0, 2047, 30), np.linspace(0, 2047, 30))
    xb, yb = d.inverse(*d(x, y))
    assert np.abs(xb - x).max() < 1e-3 and np.abs(yb - y).max() < 1e-3   # fitted inverse, 1e-3 px
    # the corner moves by a few pixels relative to a distortion-free detector
    lin = (np.array(d(0.0, 0.0)) - np.array(d(1023.5, 1023.5)))
    assert 1.0 < abs(np.hypot(*lin) / 0.031 - np.hypot(1023.5, 1023.5)) < 6.0
    with pytest.raises(ValueError, match="degree"):
        polynomial_distortion(x_ref=0, y_ref=0, scale=1, dx_terms={"c1_0": 1e-3}, dy_terms={},
                              v2_ref=0, v3_ref=0, v3yangle=0)


def test_exposure_wcs_agrees_with_distortion_plus_independent_rotation():
    # pixel -> (+ SUBSTRT - 1 + filter offset) -> distortion -> VA scale -> rotation (yardstick)
    p = Pointing(53.1625, -27.7914, 110.0, -520.0, 30.0, -0.56, va_scale=1.00005)
    d = _distortion()
    w = exposure_wcs(p, d, shape=(400, 400), substrt=(1025, 513), offset=(0.12, -0.2))
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-0.5, 399.5, 200), rng.uniform(-0.5, 399.5, 200)
    v2, v3 = d(x + 1024 + 0.12, y + 512 - 0.2)
    v2 = p.v2_ref + 1.00005 * (v2 - p.v2_ref)
    v3 = p.v3_ref + 1.00005 * (v3 - p.v3_ref)
    ra_t, dec_t = sky_by_spherical_geometry(p, v2, v3)
    ra, dec = w(x, y)
    assert angular_error_deg(ra, dec, ra_t, dec_t).max() < 1e-3 * MAS     # goal < 1 mas
    assert w.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
    xb, yb = w.invert(ra, dec)
    assert np.abs(xb - x).max() < 1e-3 and np.abs(yb - y).max() < 1e-3    # the inverse polynomial


def test_distortion_free_wcs():
    # the centre of the image maps to RA_REF/DEC_REF; 10 px along y at roll 0 is 0.31" north
    w = imaging_wcs(Pointing(80.0, 0.0, 86.1, -493.2, 0.0), shape=(64, 64), pixel_scale=0.031)
    assert w(31.5, 31.5) == pytest.approx((80.0, 0.0), abs=1e-12)
    assert w(31.5, 41.5)[1] * 3600 == pytest.approx(0.31, rel=1e-6)
    assert w(41.5, 31.5)[0] < 80.0                       # +x runs west (east to the left)
    with pytest.raises(ValueError):
        imaging_wcs(Pointing(80.0, 0.0, 86.1, -493.2, 0.0))


def test_asdf_round_trip():
    w = exposure_wcs(POINTINGS[0], _distortion(), shape=(100, 120), substrt=(1, 1))
    back = wcs_from_asdf_bytes(wcs_to_asdf_bytes(w))
    x, y = np.array([0.0, 50.0, 119.0]), np.array([0.0, 20.0, 99.0])
    assert np.array_equal(np.array(back(x, y)), np.array(w(x, y)))
    assert back.available_frames == w.available_frames and back.array_shape == (100, 120)
    buf = io.BytesIO()
    asdf.AsdfFile({"other": 1}).write_to(buf)
    with pytest.raises(ValueError, match="no WCS"):
        wcs_from_asdf_bytes(buf.getvalue())


def test_sip_header_agrees_with_gwcs():
    # astropy.wcs reading the SIP cards reproduces the gwcs to < 0.01 px over the image
    shape = (256, 300)
    w = exposure_wcs(POINTINGS[0], _distortion(), shape=shape, substrt=(1, 1))
    cards = sip_cards(w, shape)
    assert cards["CTYPE1"] == "RA---TAN-SIP" and cards["SIPMXERR"] < 0.01 and "NAXIS1" not in cards
    header = fits.Header({"CTYPE1": "RA---TAN", "PC1_1": 1.0, "CDELT1": 1.0, "BUNIT": "DN/s"})
    replace_wcs_cards(header, cards)
    assert "PC1_1" not in header and "CDELT1" not in header and header["BUNIT"] == "DN/s"
    fw = FitsWCS(header)
    y, x = np.mgrid[0:shape[0]:5, 0:shape[1]:5]
    ra, dec = w(x.ravel(), y.ravel())
    xs, ys = fw.all_world2pix(ra, dec, 0)
    assert np.hypot(xs - x.ravel(), ys - y.ravel()).max() < 0.01


def test_s_region_corners():
    shape = (64, 64)
    w = imaging_wcs(Pointing(80.0, 0.0, 86.1, -493.2, 0.0), shape=shape, pixel_scale=0.031)
    text = s_region(w, shape)
    values = np.array(text.split()[2:], float).reshape(4, 2)
    assert text.startswith("POLYGON ICRS ")
    # corners are 32 px = 0.992" from the centre along both axes
    assert np.abs(values[:, 1]).max() * 3600 == pytest.approx(0.992, rel=1e-4)


def test_filter_offset_rows():
    rows = [{"filter": "F200W", "pupil": "CLEAR", "column_offset": 0.1, "row_offset": -0.2},
            {"filter": "F770W", "column_offset": 0.3, "row_offset": 0.4}]
    assert filter_offset(rows, "F200W", "CLEAR") == (0.1, -0.2)
    assert filter_offset(rows, "f200w", "F162M") is None
    assert filter_offset(rows, "F770W", "N/A") == (0.3, 0.4)     # MIRI rows have no pupil
    assert filter_offset(rows, "F444W") is None


def test_tweakwcs_accepts_the_wcs():
    # tweakreg's corrector inserts v2v3corr after v2v3vacorr; a zero correction changes nothing
    p = POINTINGS[0]
    w = exposure_wcs(p, _distortion(), shape=(100, 100), substrt=(1, 1))
    corr = tweakwcs.JWSTWCSCorrector(w, p.wcsinfo())
    corr.set_correction(matrix=[[1, 0], [0, 1]], shift=[0, 0])
    assert "v2v3corr" in corr.wcs.available_frames
    assert np.allclose(corr.wcs(10.0, 20.0), w(10.0, 20.0), atol=1e-3 * MAS)


def test_real_jwst_asdf_extension(tmp_path):
    # a real MIRI i2d's ASDF extension (jwst writes its gwcs under meta.wcs): wcs_from_asdf_bytes
    # reads it, and it agrees with the TAN header jwst wrote beside it to < 1 uas
    import warnings

    from conftest import extdata

    path = extdata("fits", "jw01288015001_04101_00001_mirimage_i2d.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jwst's non-standard cards
        with fits.open(path) as hdul:
            raw = np.asarray(hdul["ASDF"].data["ASDF_METADATA"][0], dtype=np.uint8).tobytes()
            fw = FitsWCS(hdul["SCI"].header)
    w = wcs_from_asdf_bytes(raw)
    y, x = np.mgrid[0:129:8, 0:137:8]
    ra, dec = w(x.ravel(), y.ravel())
    ra_f, dec_f = fw.all_pix2world(x.ravel(), y.ravel(), 0)
    assert angular_error_deg(ra, dec, ra_f, dec_f).max() < 1e-3 * MAS


@pytest.mark.parametrize("parts", [("fits_header_only", "jw01075001001_03105_00009_nrca2_uncal.fits"),
                                   ("fits", "jw01345062001_03101_00001_nrs2_phot.138.1345_933.fits")])
def test_rotation_reproduces_real_v1_pointing(parts):
    # real SCI headers carry, besides RA_REF/DEC_REF/ROLL_REF at V2_REF/V3_REF, the archive's own
    # RA_V1/DEC_V1 (where V2 = V3 = 0 points) and PA_V3 (position angle of +V3 there): the
    # rotation built from the former gives the latter to < 1 uas and 1e-8 deg (found ~1e-7 mas)
    import warnings

    from conftest import extdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = fits.getheader(extdata(*parts), "SCI")
    rot = v2v3_to_sky(pointing_from_header(h))
    ra, dec = rot(0.0, 0.0)
    assert angular_error_deg(ra, dec, h["RA_V1"], h["DEC_V1"]) < 1e-3 * MAS
    ra3, dec3 = rot(0.0, 60.0)
    pa = SkyCoord(ra * u.deg, dec * u.deg).position_angle(SkyCoord(ra3 * u.deg, dec3 * u.deg)).deg
    assert (pa - h["PA_V3"] + 180) % 360 - 180 == pytest.approx(0.0, abs=1e-8)


def test_ideal_frame_conventions_match_a_real_raw_header():
    # the archive's TAN header of a real NRCA2 exposure (made from SIAF and the attitude) against
    # a distortion-free WCS from the same pointing keywords, reference point at CRPIX: CRVAL
    # agrees exactly; detector +x and +y point at the header's position angles to < 0.25 deg
    # (the real axes are skewed by 0.34 deg -- +x at 108.35, +y at 198.01 -- the ideal ones not)
    import warnings

    from conftest import extdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = fits.getheader(extdata("fits_header_only", "jw01075001001_03105_00009_nrca2_uncal.fits"), "SCI")
    tan = FitsWCS(fits.Header({k: h[k] for k in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CTYPE1", "CTYPE2",
                                                 "CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2")}))
    x0, y0 = h["CRPIX1"] - 1, h["CRPIX2"] - 1
    w = imaging_wcs(pointing_from_header(h), pixel_scale=0.0308, crpix=(x0, y0))
    assert angular_error_deg(*w(x0, y0), h["CRVAL1"], h["CRVAL2"]) < 1e-3 * MAS
    for dx, dy in ((100, 0), (0, 100)):
        real = SkyCoord(*tan.all_pix2world([[x0, y0], [x0 + dx, y0 + dy]], 0).T * u.deg)
        ours = SkyCoord(*np.array(w([x0, x0 + dx], [y0, y0 + dy])) * u.deg)
        diff = real[0].position_angle(real[1]).deg - ours[0].position_angle(ours[1]).deg
        assert abs((diff + 180) % 360 - 180) < 0.25
