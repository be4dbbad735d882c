"""Grism exposures for the interoperability tests: synthetic SPECWCS/WAVELENGTHRANGE/DISTORTION
files in a directory, the jwst ``ImageModel``/``CubeModel`` of a grism exposure with its
pointing, and jwst 3.0's AssignWcsStep run offline on it (all other reftypes "N/A";
``sip_approx=False`` because jwst's WFSS SIP fit calls CRDS, spectroscopy.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamcal.detectors import get_detector
from streamcal.refs import synth_grism, synth_wcs
from streamcal.refs.asdf_io import read_asdf_reffile, write_asdf_reffile
from streamcal.wcs import grism
from streamcal.wcs.pointing import Pointing

from jwstkit import _WCS_UNUSED, offline_crds

POINTING = Pointing(80.0, -69.5, 86.1, -493.2, 30.0, -0.56, -1, 1.00001)


@dataclass(frozen=True)
class GrismCase:
    """One grism exposure set-up."""

    exp_type: str
    detector: str
    grism: str
    band: str
    shape: tuple[int, int] = (2048, 2048)
    substrt: tuple[int, int] = (1, 1)
    subarray: str = "FULL"
    fwcpos: float | None = None
    xref_sci: float | None = None
    yref_sci: float | None = None
    velosys: float | None = None

    @property
    def instrument(self) -> str:
        return "NIRISS" if self.detector == "NIS" else "NIRCAM"

    @property
    def dispaxis(self) -> int:
        return grism.dispaxis_of(self.instrument, self.grism)


def write_refs(case: GrismCase, directory: Path) -> dict[str, Path]:
    """DISTORTION, SPECWCS and WAVELENGTHRANGE files of ``case`` in ``directory``."""
    det = get_detector(case.detector)
    tag = f"{case.detector}_{case.grism}_{case.band}_{case.exp_type}".lower()
    paths = {k: directory / f"{tag}_{k}.asdf" for k in ("distortion", "specwcs", "wavelengthrange")}
    write_asdf_reffile(synth_wcs.distortion_tree(det, paths["distortion"].name, "t"), paths["distortion"])
    if case.instrument == "NIRCAM":
        tree = synth_grism.nircam_specwcs_tree(det, case.grism, case.band, paths["specwcs"].name,
                                               field_dependent=case.exp_type != "NRC_TSGRISM")
    else:
        tree = synth_grism.niriss_specwcs_tree(det, case.grism, case.band, paths["specwcs"].name)
    write_asdf_reffile(tree, paths["specwcs"])
    write_asdf_reffile(synth_grism.wavelengthrange_tree(det, case.exp_type, paths["wavelengthrange"].name),
                       paths["wavelengthrange"])
    return paths


def jwst_model(case: GrismCase, nints: int = 0):
    """The jwst datamodel of an empty grism exposure of ``case`` (CubeModel when ``nints``)."""
    from stdatamodels.jwst import datamodels

    shape = (nints, *case.shape) if nints else case.shape
    m = datamodels.CubeModel(shape) if nints else datamodels.ImageModel(shape)
    m.data[...] = 1.0
    m.err = np.zeros(shape, dtype=np.float32)
    m.dq = np.zeros(shape, dtype=np.uint32)
    ins = m.meta.instrument
    ins.name, ins.detector = case.instrument, case.detector
    if case.instrument == "NIRCAM":
        ins.filter, ins.pupil, ins.module, ins.channel = case.band, case.grism, "A", "LONG"
    else:
        ins.filter, ins.pupil, ins.filter_position = case.grism, case.band, case.fwcpos
    m.meta.exposure.type = case.exp_type
    m.meta.observation.date, m.meta.observation.time = "2024-01-01", "00:00:00"
    sub = m.meta.subarray
    sub.name, sub.xstart, sub.ystart = case.subarray, case.substrt[0], case.substrt[1]
    sub.ysize, sub.xsize = case.shape
    w = m.meta.wcsinfo
    p = POINTING
    w.ra_ref, w.dec_ref, w.v2_ref, w.v3_ref, w.roll_ref = p.ra_ref, p.dec_ref, p.v2_ref, p.v3_ref, p.roll_ref
    w.v3yangle, w.vparity, w.dispersion_direction = p.v3yangle, p.vparity, case.dispaxis
    if case.xref_sci is not None:
        w.siaf_xref_sci, w.siaf_yref_sci = case.xref_sci, case.yref_sci
    w.velosys = case.velosys
    m.meta.velocity_aberration.scale_factor = p.va_scale
    m.meta.dither.x_offset, m.meta.dither.y_offset = 0.0, 0.0
    return m


def wcs_overrides(paths: dict[str, Path]) -> dict:
    over = {f"override_{name}": "N/A" for name in _WCS_UNUSED}
    over.update(override_distortion=str(paths["distortion"]), override_filteroffset="N/A",
                override_specwcs=str(paths["specwcs"]), sip_approx=False)
    return over


def jwst_assign_wcs(case: GrismCase, paths: dict[str, Path], cache: Path, nints: int = 0):
    """jwst 3.0's AssignWcsStep on an empty exposure of ``case``, offline."""
    from jwst.assign_wcs import AssignWcsStep

    with offline_crds(cache):
        return AssignWcsStep.call(jwst_model(case, nints), **wcs_overrides(paths))


def streamcal_wcs(case: GrismCase, paths: dict[str, Path]):
    """(specwcs, gwcs) of ``case`` built by streamcal from the same files."""
    spec = grism.specwcs_from_tree(read_asdf_reffile(paths["specwcs"]).tree)
    distortion = read_asdf_reffile(paths["distortion"]).tree["model"]
    wcs = grism.grism_wcs(spec, POINTING, distortion, exp_type=case.exp_type, shape=case.shape,
                          dispaxis=case.dispaxis, substrt=case.substrt, fwcpos=case.fwcpos,
                          xref_sci=case.xref_sci, yref_sci=case.yref_sci, velosys=case.velosys)
    return spec, wcs


def source_grid(n: int = 4, lo: float = 150.0, hi: float = 1900.0) -> list[tuple[float, float]]:
    """Direct-image positions on an n x n grid (full-frame pixels)."""
    v = np.linspace(lo, hi, n)
    return [(float(x), float(y)) for x in v for y in v[::-1]]
