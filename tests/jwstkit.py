"""Running the official jwst 3.0 pipelines offline, as a yardstick for the interoperability tests.

No CRDS server is asked anything: CRDS is put in server-less local mode on an empty cache
(a stub ``server_config``, jwst_spec/spectroscopy.md §7), code-default step parameters, and
every reference type of every step that is not skipped by default is overridden with a file
of streamcal's synthetic set or ``"N/A"`` (the synthetic files name jwst's model classes in
DATAMODL, so they are handed over as they are).  Products are passed by file name, as a user
would: jwst reads a file's metadata from its ASDF extension, which every streamcal product
carries.  The simulator's raw files carry none, so Detector1Pipeline gets a RampModel.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest
from streamcal.fitsio import read_header
from streamcal.models import ExposureMeta

#: What CRDS needs to believe it synced once (it never connects in server-less mode).
_SERVER_INFO = {"observatory": "jwst", "last_synced": "2025-01-01 00:00:00", "connected": False,
                "operational_context": "jwst_0000.pmap", "latest_context": "jwst_0000.pmap",
                "edit_context": "jwst_0000.pmap", "versions_context": "jwst_0000.pmap",
                "effective_mode": "local", "mappings": [], "bad_files": "", "reference_url": {},
                "crds_version": {"str": "12.0"}}
#: assign_wcs reference types that imaging does not use (spectroscopic models).
_WCS_UNUSED = ("specwcs", "regions", "wavelengthrange", "camera", "chromcorr", "collimator", "disperser",
               "fore", "fpa", "msa", "ote", "ifupost", "ifufore", "ifuslicer")


@contextlib.contextmanager
def offline_crds(cache: Path) -> Iterator[None]:
    """CRDS in server-less local mode on the empty cache ``cache`` for the duration."""
    (cache / "config" / "jwst").mkdir(parents=True, exist_ok=True)
    (cache / "config" / "jwst" / "server_config").write_text(repr(_SERVER_INFO))
    env = {"CRDS_SERVER_URL": "https://jwst-serverless-mode.stsci.edu", "CRDS_PATH": str(cache),
           "CRDS_MODE": "local", "CRDS_CONTEXT": "jwst_0000.pmap", "STPIPE_DISABLE_CRDS_STEPPARS": "true"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield


def _ref(refs, reftype: str, meta: ExposureMeta) -> str:
    path = refs.select(reftype, meta)
    return str(path) if path else "N/A"


def detector1_steps(refs, meta: ExposureMeta) -> dict:
    """Detector1Pipeline overrides: the synthetic files for the types it has; refpix (no
    REFPIX/SIRSKERNEL needed outside IRS2), emicorr, rscd, reset, picture_frame and
    clean_flicker_noise get "N/A" (the last four are skipped by default or for NIR anyway)."""
    ramp = {"override_gain": _ref(refs, "gain", meta), "override_readnoise": _ref(refs, "readnoise", meta)}
    return {"dq_init": {"override_mask": _ref(refs, "mask", meta)},
            "saturation": {"override_saturation": _ref(refs, "saturation", meta),
                           "override_superbias": _ref(refs, "superbias", meta)},
            "superbias": {"override_superbias": _ref(refs, "superbias", meta)},
            "linearity": {"override_linearity": _ref(refs, "linearity", meta)},
            "dark_current": {"override_dark": _ref(refs, "dark", meta)},
            "ipc": {"override_ipc": _ref(refs, "ipc", meta)},
            "refpix": {"override_refpix": "N/A", "override_sirskernel": "N/A"},
            "emicorr": {"override_emicorr": "N/A"}, "rscd": {"override_rscd": "N/A"},
            "reset": {"override_reset": "N/A"}, "picture_frame": {"override_pictureframe": "N/A"},
            "clean_flicker_noise": {"override_flat": "N/A", "override_pastasoss": "N/A"},
            "jump": ramp, "ramp_fit": ramp, "gain_scale": {"override_gain": _ref(refs, "gain", meta)}}


def assign_wcs_overrides(refs, meta: ExposureMeta) -> dict:
    return {"override_distortion": _ref(refs, "distortion", meta),
            "override_filteroffset": _ref(refs, "filteroffset", meta),
            **{f"override_{name}": "N/A" for name in _WCS_UNUSED}}


def image2_steps(refs, meta: ExposureMeta) -> dict:
    """Image2Pipeline overrides (its resample skipped: only the _cal is wanted)."""
    return {"bkg_subtract": {"override_bkg": "N/A", "override_wavelengthrange": "N/A"},
            "assign_wcs": assign_wcs_overrides(refs, meta),
            "flat_field": {"override_flat": _ref(refs, "flat", meta), "override_fflat": "N/A",
                           "override_sflat": "N/A", "override_dflat": "N/A"},
            "photom": {"override_photom": _ref(refs, "photom", meta), "override_area": _ref(refs, "area", meta)},
            "resample": {"skip": True}}


def run_detector1(uncal: Path, out: Path, refs) -> Path:
    """The official ``_rate`` of a raw exposure (jwst's Detector1Pipeline, offline)."""
    from jwst.pipeline import Detector1Pipeline
    from stdatamodels.jwst import datamodels

    meta = ExposureMeta.from_header(read_header(uncal))
    with datamodels.RampModel(uncal) as ramp:
        Detector1Pipeline.call(ramp, steps=detector1_steps(refs, meta), output_dir=str(out), save_results=True)
    return out / uncal.name.replace("_uncal.fits", "_rate.fits")


def run_image2(rate: Path, out: Path, refs) -> Path:
    """The official ``_cal`` of a ``_rate`` given by file name (jwst's Image2Pipeline, offline)."""
    from jwst.pipeline import Image2Pipeline

    meta = ExposureMeta.from_header(read_header(rate))
    Image2Pipeline.call(str(rate), steps=image2_steps(refs, meta), output_dir=str(out), save_results=True)
    return out / rate.name.replace("_rate.fits", "_cal.fits")


def image3_steps(refs, meta: ExposureMeta, **source_catalog) -> dict:
    """Image3Pipeline overrides: source_catalog's APCORR and ABVEGAOFFSET (its other steps use
    no reference file; tweakreg aligns to no external catalog by default, so nothing is
    fetched) plus ``source_catalog`` parameters."""
    return {"source_catalog": {"override_apcorr": _ref(refs, "apcorr", meta),
                               "override_abvegaoffset": _ref(refs, "abvegaoffset", meta), **source_catalog}}


def run_image3(asn: Path, out: Path, refs, steps: dict | None = None) -> None:
    """jwst's Image3Pipeline on an image3 ASN file (members by file name beside it), offline;
    ``steps`` are merged over :func:`image3_steps` of the first member."""
    import json

    from jwst.pipeline import Image3Pipeline

    first = json.loads(asn.read_text())["products"][0]["members"][0]["expname"]
    meta = ExposureMeta.from_header(read_header(asn.parent / first))
    settings = image3_steps(refs, meta)
    for step, values in (steps or {}).items():
        settings[step] = {**settings.get(step, {}), **values}
    Image3Pipeline.call(str(asn), steps=settings, output_dir=str(out), save_results=True)


def run_tso3(asn: Path, out: Path, refs, steps: dict | None = None) -> None:
    """jwst's Tso3Pipeline on a tso3 ASN file (``_calints`` members beside it), offline: no
    prefetch (its class-level gain/readnoise list), tso_photometry's gain overridden with the
    synthetic file; ``steps`` are merged over that."""
    import json

    from jwst.pipeline import Tso3Pipeline

    first = json.loads(asn.read_text())["products"][0]["members"][0]["expname"]
    meta = ExposureMeta.from_header(read_header(asn.parent / first))
    settings = {"tso_photometry": {"override_gain": _ref(refs, "gain", meta)}}
    for step, values in (steps or {}).items():
        settings[step] = {**settings.get(step, {}), **values}
    pipeline = Tso3Pipeline(steps=settings, output_dir=str(out), save_results=True)
    pipeline.prefetch_references = False  # an attribute, not a parameter of the spec
    pipeline.run(str(asn))


def run_coron3(asn: Path, out: Path, refs, psfmask: str | Path | None = None, steps: dict | None = None) -> None:
    """jwst's Coron3Pipeline on a coron3 ASN file (``_calints`` members beside it), offline:
    align_refs' PSFMASK overridden (``psfmask``, default the synthetic file for the first
    member), which also serves the pipeline's per-member prefetch; ``steps`` merged over that."""
    import json

    from jwst.pipeline import Coron3Pipeline

    first = json.loads(asn.read_text())["products"][0]["members"][0]["expname"]
    meta = ExposureMeta.from_header(read_header(asn.parent / first))
    settings = {"align_refs": {"override_psfmask": str(psfmask) if psfmask else _ref(refs, "psfmask", meta)}}
    for step, values in (steps or {}).items():
        settings[step] = {**settings.get(step, {}), **values}
    Coron3Pipeline.call(str(asn), steps=settings, output_dir=str(out), save_results=True)


def run_assign_wcs(rate: Path, refs):
    """jwst's AssignWcsStep on a ``_rate`` given by file name (offline): the model with ``meta.wcs``."""
    from jwst.assign_wcs import AssignWcsStep

    meta = ExposureMeta.from_header(read_header(rate))
    return AssignWcsStep.call(str(rate), **assign_wcs_overrides(refs, meta))


__all__ = ["offline_crds", "detector1_steps", "image2_steps", "image3_steps", "assign_wcs_overrides",
           "run_detector1", "run_image2", "run_image3", "run_tso3", "run_coron3", "run_assign_wcs"]
