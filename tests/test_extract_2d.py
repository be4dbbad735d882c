"""Grism extract_2d (streamcal.steps.extract_2d) against jwst 3.0's Extract2dStep.

The cutout boxes (xstart, ystart, shape) must be identical: both sides round the same trace
positions (<= 1e-9 px apart, tests/test_grism_wcs.py) with floor(v + 0.5).  The cutouts'
wavelength arrays are compared to 1e-5 um (the WCS tolerance of test_grism_wcs.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from grismkit import GrismCase, jwst_model, streamcal_wcs, write_refs
from jwstkit import offline_crds
from streamcal.refs.asdf_io import read_asdf_reffile
from streamcal.steps import extract_2d as e2d

WAVE_TOL = 1e-5   # um

#: (id, x, y, half size of the segment box (px), AB mag, extended): central, near the left and
#: right edges (partial traces), at the top edge, an extended one, a faint one, one off the image.
SOURCES = [(1, 1000.0, 900.0, 4, 20.0, False), (2, 40.0, 300.0, 3, 21.5, False),
           (3, 1700.0, 1500.0, 5, 19.0, False), (4, 600.0, 2044.0, 3, 22.0, False),
           (5, 300.0, 1200.0, 9, 18.5, True), (6, 1300.0, 400.0, 3, 26.0, False),
           (7, -900.0, 1000.0, 3, 20.5, False)]


def catalog(wcs) -> QTable:
    """A source catalog in jwst's columns, sky positions through ``wcs``'s direct-image part."""
    to_sky = wcs.get_transform("detector", "world")
    rows = {k: [] for k in ("label", "xcentroid", "ycentroid", "sky_centroid", "isophotal_abmag",
                            "isophotal_abmag_err", "is_extended", "sky_bbox_ll", "sky_bbox_lr", "sky_bbox_ul",
                            "sky_bbox_ur")}
    for sid, x, y, h, mag, ext in SOURCES:
        def sky(px, py):
            ra, dec, *_ = to_sky(px, py, 1, 1)
            return SkyCoord(float(ra), float(dec), unit="deg")
        rows["label"].append(sid)
        rows["xcentroid"].append(x)
        rows["ycentroid"].append(y)
        rows["sky_centroid"].append(sky(x, y))
        rows["isophotal_abmag"].append(mag)
        rows["isophotal_abmag_err"].append(0.01)
        rows["is_extended"].append(ext)
        for name, (dx, dy) in {"ll": (-h, -h), "lr": (h, -h), "ul": (-h, h), "ur": (h, h)}.items():
            rows[f"sky_bbox_{name}"].append(sky(x + dx, y + dy))
    table = QTable()
    for name, values in rows.items():
        table[name] = SkyCoord(values) if isinstance(values[0], SkyCoord) else values
    table["xcentroid"].unit = table["ycentroid"].unit = u.pix
    return table


WFSS = {"nrc_grismr": GrismCase("NRC_WFSS", "NRCALONG", "GRISMR", "F444W"),
        "nrc_grismc": GrismCase("NRC_WFSS", "NRCALONG", "GRISMC", "F322W2"),
        "nis_gr150r": GrismCase("NIS_WFSS", "NIS", "GR150R", "F150W", fwcpos=0.2)}


def _jwst_wfss(case, paths, cat_path, tmp, **params):
    from jwst.assign_wcs import AssignWcsStep
    from jwst.extract_2d import Extract2dStep

    from grismkit import wcs_overrides

    with offline_crds(tmp / "crds"):
        model = AssignWcsStep.call(jwst_model(case), **wcs_overrides(paths))
        model.meta.source_catalog = str(cat_path)
        return Extract2dStep.call(model, override_wavelengthrange=str(paths["wavelengthrange"]), **params)


@pytest.mark.parametrize("name", list(WFSS))
@pytest.mark.parametrize("params", [{}, {"wfss_extract_half_height": 3, "wfss_mmag_extract": 25.0,
                                         "wfss_nbright": 4}])
def test_wfss_boxes_match_jwst(tmp_path, name, params):
    pytest.importorskip("jwst")
    case = WFSS[name]
    paths = write_refs(case, tmp_path)
    spec, wcs = streamcal_wcs(case, paths)
    table = catalog(wcs)
    cat_path = tmp_path / "direct_cat.ecsv"
    table.write(cat_path, format="ascii.ecsv")
    result = _jwst_wfss(case, paths, cat_path, tmp_path, **params)

    wr = read_asdf_reffile(paths["wavelengthrange"]).tree
    mine = e2d.wfss_cutouts(wcs, table, wr, band=case.band, shape=case.shape, dispaxis=case.dispaxis,
                            params=e2d.Params(**params))
    theirs = [(int(s.source_id), int(s.meta.wcsinfo.spectral_order), s.xstart - 1, s.ystart - 1,
               s.data.shape) for s in result.slits]
    assert [(c.source_id, c.order, c.xstart, c.ystart, c.shape) for c in mine] == theirs
    assert len(mine) >= 3        # the test exercises several sources
    for c, s in zip(mine, result.slits):
        np.testing.assert_allclose(c.wavelength, s.wavelength, rtol=0, atol=WAVE_TOL, equal_nan=True)
        assert (c.source_xpos, c.source_ypos) == pytest.approx((s.source_xpos, s.source_ypos), abs=1e-6)
        assert c.is_extended == bool(s.is_extended)


@pytest.mark.parametrize("height", [None, 40])
def test_tsgrism_box_matches_jwst(tmp_path, height):
    pytest.importorskip("jwst")
    from jwst.assign_wcs import AssignWcsStep
    from jwst.extract_2d import Extract2dStep

    from grismkit import wcs_overrides

    case = GrismCase("NRC_TSGRISM", "NRCALONG", "GRISMR", "F444W", shape=(64, 2048), substrt=(1, 1985),
                     subarray="SUBGRISM64", xref_sci=1008.5, yref_sci=2018.0)
    paths = write_refs(case, tmp_path)
    _, wcs = streamcal_wcs(case, paths)
    with offline_crds(tmp_path / "crds"):
        model = AssignWcsStep.call(jwst_model(case, nints=2), **wcs_overrides(paths))
        slit = Extract2dStep.call(model, override_wavelengthrange=str(paths["wavelengthrange"]),
                                  tsgrism_extract_height=height)
    wr = read_asdf_reffile(paths["wavelengthrange"]).tree
    (order,) = e2d.extract_orders_for(wr, case.band)
    mine = e2d.tsgrism_cutout(wcs, case.shape, order, source_xpos=float(slit.source_xpos), height=height)
    assert (mine.xstart + 1, mine.ystart + 1, mine.shape) == (slit.xstart, slit.ystart, slit.data.shape[-2:])
    np.testing.assert_allclose(mine.wavelength, slit.wavelength, rtol=0, atol=WAVE_TOL)


def test_tsgrism_box_rule():
    """Rows 0 .. h-1 for any height >= 2 (clamped to the image), 0 .. 34 for h < 2."""
    assert e2d.tsgrism_box((64, 2048)) == (0, 63)
    assert e2d.tsgrism_box((64, 2048), 10) == (0, 9)
    assert e2d.tsgrism_box((64, 2048), 100) == (0, 64)
    assert e2d.tsgrism_box((256, 2048), 1) == (0, 34)
    with pytest.raises(ValueError):
        e2d.tsgrism_box((64, 2048), -3)


def test_helpers_errors():
    tree = {"extract_orders": [["F444W", [1]]], "wavelengthrange": [[1, "F444W", 3.9, 5.0]]}
    assert e2d.extract_orders_for(tree, "F444W") == (1,)
    assert e2d.wavelength_ranges(tree, "F444W", [1]) == {1: (3.9, 5.0)}
    with pytest.raises(ValueError, match="extract_orders"):
        e2d.extract_orders_for(tree, "F356W")
    with pytest.raises(ValueError, match="order 2"):
        e2d.wavelength_ranges(tree, "F444W", [2])
    with pytest.raises(KeyError, match="label"):
        e2d.catalog_sources(QTable({"x": [1]}))
    assert e2d.to_index(2.5) == 3 and e2d.to_index(-0.5) == 0
