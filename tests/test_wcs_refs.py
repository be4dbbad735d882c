"""ASDF reference files (streamcal.refs.asdf_io): the synthetic DISTORTION and FILTEROFFSET
files, their selection from a directory like any FITS reference, and the real CRDS MIRI
distortion file of extdata."""

from __future__ import annotations

import shutil
from dataclasses import replace

import asdf
import numpy as np
import pytest
from astropy import units as u

from conftest import extdata
from streamcal.detectors import DETECTORS
from streamcal.errors import ReferenceFileError
from streamcal.models import ExposureMeta
from streamcal.refs import SYNTHETIC_VERSION, ReferenceSet, generate
from streamcal.refs.asdf_io import header_from_meta, read_asdf_reffile, write_asdf_reffile
from streamcal.refs.select import keys_from_header
from streamcal.refs.synth_wcs import distortion_terms, filter_rows, has_wcs_refs, imaging_exp_types
from streamcal.wcs.apertures import APERTURE


def meta(detector="NRCA1", exp_type="NRC_IMAGE", instrument="NIRCAM", **kw) -> ExposureMeta:
    base = dict(filename="jw_test_rate.fits", instrument=instrument, detector=detector, exp_type=exp_type,
                nints=1, ngroups=5, nframes=1, groupgap=0, tframe=10.7, tgroup=10.7, subarray="SUB400P",
                substrt1=1, substrt2=1, subsize1=400, subsize2=400, filter="F200W", pupil="CLEAR",
                date_obs="2024-05-01T00:00:00")
    base.update(kw)
    return ExposureMeta(**base)


def test_every_imaging_detector_has_a_distortion_at_its_aperture():
    # reference pixel = detector centre -> the aperture's (V2_REF, V3_REF) of the SIAF-like table
    for name, det in DETECTORS.items():
        if not has_wcs_refs(det):
            assert name in ("MIRIFUSHORT", "MIRIFULONG")
            continue
        assert generate.supported("distortion", det)
        tree = generate.ASDF_BUILDERS["distortion"](det, "x.asdf", "synth1")
        ny, nx = det.shape
        model = tree["model"]
        assert model((nx - 1) / 2, (ny - 1) / 2) == pytest.approx(APERTURE[name][:2], abs=1e-9)
        assert tree["meta"]["output_units"] == u.arcsec and tree["meta"]["reftype"] == "distortion"
        # "a few pixels at the corners": quadratic (<= 2 px) + radial cubic (<= 3 px)
        dx, dy = distortion_terms(det)
        half = max(det.shape) / 2
        corner = sum(abs(c) * half ** (int(k[1]) + int(k[3])) for k, c in dx.items())
        assert 1.0 < corner < 8.0


def test_filteroffset_rows_per_instrument():
    assert len(filter_rows(DETECTORS["NRCA1"])) == 13 and len(filter_rows(DETECTORS["NRCALONG"])) == 16
    assert all("pupil" not in r for r in filter_rows(DETECTORS["MIRIMAGE"]))
    assert all(abs(r["column_offset"]) <= 0.3 for r in filter_rows(DETECTORS["NIS"]))
    assert not generate.supported("filteroffset", DETECTORS["GUIDER1"])
    assert "NRS_TACQ" in imaging_exp_types("NIRSPEC") and "NRC_WFSS" not in imaging_exp_types("NIRCAM")


def test_synthetic_set_writes_asdf_and_selects_it(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMCAL_REFS_POOL", "")          # generate here, no shared pool
    refs = ReferenceSet(cache_dir=tmp_path)
    d = refs.get("distortion", meta())
    f = refs.get("filteroffset", meta())
    assert d.path.endswith(f"streamcal_nircam_nrca1_distortion_{SYNTHETIC_VERSION}.asdf") and d.reftype == "distortion"
    assert d.tree["model"](1023.5, 1023.5) == pytest.approx(APERTURE["NRCA1"][:2], abs=1e-9)
    assert {"filter": "F200W", "pupil": "CLEAR"}.items() <= f.tree["filters"][8].items()
    assert refs.get("filteroffset", meta("GUIDER1", "FGS_IMAGE", "FGS", filter="N/A")) is None
    # the files are real ASDF, readable without streamcal
    with asdf.open(d.path) as af:
        assert af["meta"]["instrument"]["detector"] == "NRCA1"
    # index.json lists them with keys from meta, so a user directory made of them selects them
    user = tmp_path / "user"
    user.mkdir()
    for path in (d.path, f.path):
        shutil.copy(path, user)
    chosen = ReferenceSet(root=user).select("distortion", meta())
    assert chosen is not None and chosen.name.endswith(f"_distortion_{SYNTHETIC_VERSION}.asdf")
    assert ReferenceSet(root=user).select("distortion", meta(exp_type="NRC_WFSS")) is None
    # and --override distortion=FILE.asdf works like a FITS override
    forced = ReferenceSet(root=user, overrides={"distortion": d.path}).get("distortion", meta("NRCA3"))
    assert forced.path == d.path and forced.tree["model"].n_inputs == 2


def test_asdf_meta_to_selection_keys(tmp_path):
    tree = {"meta": {"reftype": "distortion", "instrument": {"name": "NIRISS", "detector": "NIS",
                                                             "filter": "CLEAR", "p_pupil": "F150W|F200W|"},
                     "exposure": {"type": "NIS_IMAGE"}, "useafter": "2022-01-01T00:00:00"},
            "model": None}
    path = write_asdf_reffile(tree, tmp_path / "d.asdf")
    assert not list(tmp_path.glob(".*.part"))
    keys = keys_from_header(str(path), header_from_meta(tree["meta"]))
    assert (keys.reftype, keys.instrument, keys.detector, keys.pupil, keys.exp_type) == (
        "distortion", "NIRISS", "NIS", "F150W|F200W", "NIS_IMAGE")
    assert read_asdf_reffile(path).header["FILTER"] == "CLEAR"
    (tmp_path / "bad.asdf").write_text("not asdf")
    with pytest.raises(ReferenceFileError, match="bad.asdf"):
        read_asdf_reffile(tmp_path / "bad.asdf")


def test_real_crds_miri_distortion(tmp_path):
    # extdata's jwst_miri_distortion_0022.asdf is a MIRI *MRS* distortion (MIRIFUSHORT, channels
    # 1-2 band MEDIUM, meta.filename jwst_miri_mrs12B_distortion_cdp6.asdf), not an imager one
    src = extdata("reffiles", "jwst_miri_distortion_0022.asdf")
    shutil.copy(src, tmp_path)
    refs = ReferenceSet(root=tmp_path)
    mrs = meta("MIRIFUSHORT", "MIR_MRS", "MIRI", subarray="FULL", subsize1=1032, subsize2=1024, filter="N/A",
               pupil="N/A")
    ref = refs.get("distortion", mrs)
    assert ref is not None and ref.header["DETECTOR"] == "MIRIFUSHORT" and ref.header["BAND"] == "MEDIUM"
    assert {"alpha_model", "beta_model", "x_model", "y_model"} <= set(ref.tree)
    x, y = 516.0, 512.0   # a slice model evaluates (the MRS transforms are real astropy models)
    assert np.isfinite(ref.tree["alpha_model"][0](x, y))
    # not selected for the imager
    assert refs.select("distortion", replace(mrs, detector="MIRIMAGE", exp_type="MIR_IMAGE")) is None
