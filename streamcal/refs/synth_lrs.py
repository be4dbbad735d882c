"""Synthetic MIRI LRS (P750L prism) references: SPECWCS, PHOTOM, PATHLOSS, APCORR and FLAT in
the CRDS FITS formats jwst 3.0 opens (DATAMODL: ``MiriLRSSpecwcsModel``, ``MirLrsPhotomModel``,
``MirLrsPathlossModel``, ``MirLrsApcorrModel``, ``FlatModel``), one file per LRS EXP_TYPE
(MIR_LRS-FIXEDSLIT full frame, MIR_LRS-SLITLESS SLITLESSPRISM).  The DISTORTION is the
imager's (:mod:`streamcal.refs.synth_wcs`), as in CRDS.  EXTRACT1D (a JSON file in jwst) is
not made here.

The instrument model, shared with the simulator (:mod:`streamcal.sim.spectra`) so that a
perfect calibration returns the truth:

- **trace**: the slit reference point IMX/IMY = (326.13, 300.70) and the slitless one
  IMXSLTL/IMYSLTL = (38.5, 829.0) (1-based full frame, as CRDS).  Wavelength runs from 4.5 um at
  ``DY_TOP`` = +90.3 rows above the reference to 14 um at ``DY_BOTTOM`` = -249.7 rows
  (full-frame rows ~390 .. 50 for the slit) along ``lambda(t) = 4.5 + 9.5 (1.6 t - 2.4 t^2 +
  1.8 t^3)``, ``t = (DY_TOP - dy) / (DY_TOP - DY_BOTTOM)``: like the prism, the dispersion is
  large at both ends (0.045 um/px at 4.5 um, 0.06 at 14 um) and smallest near 8 um
  (0.015 um/px).  The trace column drifts by ``dx(t) = 1.2 (t - 0.3)^2 - 0.6 t`` pixels.  The
  WAVETABLE samples it every row; its corner columns are +-``SLIT_HALF_LENGTH_PIX`` about the
  trace (the 4.7" slit), corner rows +-0.5.
- **photon budget** (as :mod:`streamcal.refs.synth_stage2` for imaging): a point source of
  ``F_nu`` Jy puts ``F_nu 1e-26 A T(lambda) S(lambda) R_pix(lambda) / h`` electrons/s into the
  row whose wavelength band is ``dlambda`` wide (``R_pix = dlambda / lambda``), with collecting
  area ``A``, system throughput ``T`` (:func:`throughput`) and slit transmission ``S`` (1 for
  slitless).  The photom step multiplies DN/s by ``PHOTMJSR * RELRESPONSE(lambda)`` (MJy/sr)
  and extract_1d multiplies the row sum by the pixel solid angle ``Omega`` (PIXAR_SR), so
  ``PHOTMJSR * RELRESPONSE = h * gain / (1e-20 * Omega * A * T * R_pix)`` with the nominal
  gain and ``R_pix = |dlambda/dy| / lambda`` from the trace; PHOTMJSR is its value at 7.5 um.
- **slit**: a Gaussian PSF (FWHM ``1.028 lambda / D``, 0.5 px added in quadrature) through a
  0.51" wide slit: ``S(lambda, d) = [erf((w/2 - d)/(sqrt2 sigma)) + erf((w/2 + d)/(sqrt2
  sigma))] / 2`` at cross-slit offset ``d``; uniform along the slit.  PATHLOSS holds the
  correction ``1 / S`` on a grid of (along-slit, cross-slit) pixel offsets from the reference
  point per wavelength (jwst multiplies by it), wavelengths in decreasing order as in CRDS.
- **flat**: in DN, as flats measured on the sky: the imaging P750L pixel response times the
  pixel gain relative to the nominal gain (``nominal / GAIN``), which PHOTOM assumes; the
  simulator collects ``scene x FLAT x gain / nominal`` electrons, so ``DN/s / FLAT`` is the scene
  at the nominal gain exactly.
- **apcorr**: ``1 / erf(W / (2 sqrt2 sigma))`` for a box W pixels wide centred on the trace.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits
from scipy.special import erf

from ..detectors import Detector
from ..models import ExposureMeta
from . import synth_stage2, synthetic as syn
from .io import dq_def_hdu, reffile_hdulist

__all__ = ["LRS_TYPES", "claims", "file_tag", "build", "is_asdf", "IMX", "IMY", "IMXSLTL", "IMYSLTL",
           "trace_wavelength", "trace_dx", "dispersion", "throughput", "psf_sigma_arcsec", "slit_transmission",
           "conversion_mjsr", "PHOTMJSR_WAVELENGTH", "photmjsr", "WAVE_MIN", "WAVE_MAX"]

#: The LRS EXP_TYPEs and the subarray of each.
LRS_TYPES = {"MIR_LRS-FIXEDSLIT": "FULL", "MIR_LRS-SLITLESS": "SLITLESSPRISM"}
#: Reference types this module makes for LRS exposures.
REFTYPES = ("specwcs", "photom", "pathloss", "apcorr", "flat")
_DATAMODEL = {"specwcs": "MiriLRSSpecwcsModel", "photom": "MirLrsPhotomModel", "pathloss": "MirLrsPathlossModel",
              "apcorr": "MirLrsApcorrModel", "flat": "FlatModel"}
FILTER = "P750L"

#: Reference points, 1-based full-frame pixels (CRDS values).
IMX, IMY, IMXSLTL, IMYSLTL = 326.13, 300.70, 38.5, 829.0
#: Rows of the trace ends relative to the reference point, and their wavelengths (um).
DY_TOP, DY_BOTTOM, WAVE_MIN, WAVE_MAX = 90.3, -249.7, 4.5, 14.0
#: The cubic lambda(t) coefficients (sum 1: lambda(1) = WAVE_MAX).
_CUBIC = (1.6, -2.4, 1.8)
#: Slit: width and length, arcsec; half length in pixels for the WAVETABLE corners.
SLIT_WIDTH_ARCSEC, SLIT_LENGTH_ARCSEC = 0.51, 4.7
SLIT_HALF_LENGTH_PIX = 21.5
#: System throughput of the LRS (telescope + MIRI + prism + detector QE) at its peak.
PEAK_THROUGHPUT = 0.3
#: Wavelength at which PHOTMJSR is quoted (RELRESPONSE = 1 there), um.
PHOTMJSR_WAVELENGTH = 7.5
#: Wavelength grid of the PHOTOM, PATHLOSS and APCORR tables, um.
TABLE_WAVELENGTHS = np.linspace(4.0, 14.5, 211)
#: Pathloss grid: along-slit (columns) and cross-slit (rows) pixel offsets from the reference.
PATHLOSS_X = np.arange(-24.0, 24.01, 2.0)
PATHLOSS_Y = np.arange(-2.5, 2.51, 0.25)
#: APCORR box widths, pixels.
APCORR_SIZES = np.arange(3, 31, 3)


# ------------------------------------------------------------------------- instrument model

def _t_of_dy(dy: np.ndarray | float) -> np.ndarray:
    return (DY_TOP - np.asarray(dy, np.float64)) / (DY_TOP - DY_BOTTOM)


def trace_wavelength(dy: np.ndarray | float) -> np.ndarray:
    """Wavelength, um, of the trace at ``dy`` rows from the reference point (the WAVETABLE's
    exact curve; the WCS is a smoothing spline through its samples)."""
    t = _t_of_dy(dy)
    a, b, c = _CUBIC
    return WAVE_MIN + (WAVE_MAX - WAVE_MIN) * (a * t + b * t ** 2 + c * t ** 3)


def trace_dx(dy: np.ndarray | float) -> np.ndarray:
    """Column offset of the trace, pixels, at ``dy`` rows from the reference point."""
    t = _t_of_dy(dy)
    return 1.2 * (t - 0.3) ** 2 - 0.6 * t


def _dy_of_wavelength(wavelength: np.ndarray) -> np.ndarray:
    rows = np.linspace(DY_TOP + 5, DY_BOTTOM - 5, 4001)  # lambda increases along this grid
    return np.interp(wavelength, trace_wavelength(rows), rows)


def dispersion(wavelength: np.ndarray | float) -> np.ndarray:
    """|dlambda/dy|, um per pixel, of the trace at ``wavelength`` um."""
    t = _t_of_dy(_dy_of_wavelength(np.asarray(wavelength, np.float64)))
    a, b, c = _CUBIC
    return (WAVE_MAX - WAVE_MIN) * (a + 2 * b * t + 3 * c * t ** 2) / (DY_TOP - DY_BOTTOM)


def throughput(wavelength: np.ndarray | float) -> np.ndarray:
    """System throughput (photons to electrons) of the LRS, a smooth hump peaking at 8 um."""
    lam = np.asarray(wavelength, np.float64)
    return PEAK_THROUGHPUT * (0.55 + 0.45 * np.exp(-(((lam - 8.0) / 4.0) ** 2)))


def psf_sigma_arcsec(wavelength: np.ndarray | float, pixel_scale: float) -> np.ndarray:
    """Gaussian sigma of the PSF, arcsec: diffraction (FWHM 1.028 lambda/D) and 0.5 pixel of
    detector blur in quadrature (the simulator's imaging PSF, :mod:`streamcal.sim.scene`)."""
    from ..sim.scene import MIRROR_DIAMETER_M

    fwhm = 1.028 * np.asarray(wavelength, np.float64) * 1e-6 / MIRROR_DIAMETER_M * synth_stage2.ARCSEC_PER_RAD
    return np.hypot(fwhm / 2.3548, 0.5 * pixel_scale)


def slit_transmission(wavelength: np.ndarray | float, cross_offset_arcsec: float, pixel_scale: float) -> np.ndarray:
    """Fraction of a point source's light through the slit at a cross-slit offset (arcsec)."""
    sigma = psf_sigma_arcsec(wavelength, pixel_scale) * math.sqrt(2.0)
    half = SLIT_WIDTH_ARCSEC / 2.0
    return 0.5 * (erf((half - cross_offset_arcsec) / sigma) + erf((half + cross_offset_arcsec) / sigma))


def conversion_mjsr(det: Detector, wavelength: np.ndarray | float) -> np.ndarray:
    """PHOTMJSR * RELRESPONSE: MJy/sr per DN/s of a pixel at ``wavelength`` (module budget)."""
    lam = np.asarray(wavelength, np.float64)
    r_pix = dispersion(lam) / lam
    gain = syn.nominal(det).gain
    return (synth_stage2.PLANCK_J_S * gain
            / (1e-20 * synth_stage2.pixel_area_sr(det) * synth_stage2.COLLECTING_AREA_M2 * throughput(lam) * r_pix))


def photmjsr(det: Detector) -> float:
    """PHOTMJSR of the table (the conversion at :data:`PHOTMJSR_WAVELENGTH`)."""
    return float(conversion_mjsr(det, PHOTMJSR_WAVELENGTH))


# ------------------------------------------------------------------------------- files

def claims(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """generate.py contract: the LRS types of a MIRIMAGE exposure of an LRS EXP_TYPE."""
    return (meta is not None and detector.name == "MIRIMAGE" and reftype in REFTYPES
            and meta.exp_type.upper() in LRS_TYPES)


def file_tag(reftype: str, detector: Detector, meta: ExposureMeta) -> str:
    """``lrs-fs-p750l`` or ``lrs-slitless-p750l``."""
    mode = "fs" if meta.exp_type.upper() == "MIR_LRS-FIXEDSLIT" else "slitless"
    return f"lrs-{mode}-{FILTER.lower()}"


def is_asdf(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """generate.py contract: every LRS file is FITS, as in CRDS."""
    return False


def _header(det: Detector, reftype: str, exp_type: str, name: str, descrip: str) -> dict:
    ny, nx = det.shape
    return {"DATE": "2025-01-01T00:00:00", "FILENAME": name, "DATAMODL": _DATAMODEL[reftype], "TELESCOP": "JWST",
            "INSTRUME": "MIRI", "DETECTOR": det.name, "FILTER": FILTER, "BAND": "N/A", "EXP_TYPE": exp_type,
            "P_EXP_TY": f"{exp_type}|", "SUBARRAY": "FULL", "SUBSTRT1": 1, "SUBSTRT2": 1,
            "SUBSIZE1": nx, "SUBSIZE2": ny, "FASTAXIS": det.fastaxis, "SLOWAXIS": det.slowaxis,
            "READPATT": "ANY", "REFTYPE": reftype.upper(), "USEAFTER": "2022-01-01T00:00:00",
            "PEDIGREE": "DUMMY", "DESCRIP": descrip, "AUTHOR": "streamcal synthetic reference set",
            "SYNTHVER": (syn.VERSION, "streamcal synthetic reference set version")}


def _slit_vertices(det: Detector) -> dict:
    """V2VERTn/V3VERTn: the slit corners through the imager distortion (counter-clockwise from
    the lower left), arcsec."""
    from .synth_wcs import distortion_model

    model = distortion_model(det)
    half_w = SLIT_WIDTH_ARCSEC / 2.0 / det.pixel_scale
    half_l = SLIT_LENGTH_ARCSEC / 2.0 / det.pixel_scale
    x = IMX - 1 + np.array([-half_l, half_l, half_l, -half_l])
    y = IMY - 1 + np.array([-half_w, -half_w, half_w, half_w])
    v2, v3 = model(x, y)
    cards = {f"V2VERT{i + 1}": float(v) for i, v in enumerate(v2)}
    cards.update({f"V3VERT{i + 1}": float(v) for i, v in enumerate(v3)})
    return cards


def wavetable() -> fits.BinTableHDU:
    """WAVETABLE: one row per detector row of the trace, top (short wavelengths) down."""
    dy = np.arange(DY_TOP, DY_BOTTOM - 0.5, -1.0)
    xc, lam = trace_dx(dy), trace_wavelength(dy)
    cols = {"x_center": xc, "y_center": dy, "wavelength": lam,
            "x0": xc - SLIT_HALF_LENGTH_PIX, "y0": dy + 0.5, "x1": xc + SLIT_HALF_LENGTH_PIX, "y1": dy + 0.5,
            "x2": xc + SLIT_HALF_LENGTH_PIX, "y2": dy - 0.5, "x3": xc - SLIT_HALF_LENGTH_PIX, "y3": dy - 0.5}
    return fits.BinTableHDU.from_columns([fits.Column(k, "D", array=v) for k, v in cols.items()], name="WAVETABLE")


def _specwcs(det: Detector, exp_type: str):
    extra = {"IMX": IMX, "IMY": IMY, "IMXSLTL": IMXSLTL, "IMYSLTL": IMYSLTL, **_slit_vertices(det)}
    return "Synthetic LRS P750L wavelength calibration", {}, {"WAVETABLE": wavetable()}, extra


def _photom(det: Detector, exp_type: str):
    lam = TABLE_WAVELENGTHS
    value = photmjsr(det)
    rel = conversion_mjsr(det, lam) / value
    n = len(lam)
    cols = [fits.Column("filter", "12A", array=[FILTER]), fits.Column("subarray", "17A", array=[LRS_TYPES[exp_type]]),
            fits.Column("photmjsr", "E", array=[value]), fits.Column("uncertainty", "E", array=[0.01 * value]),
            fits.Column("nelem", "I", array=[n]), fits.Column("wavelength", f"{n}E", array=lam[None, :]),
            fits.Column("relresponse", f"{n}E", array=rel[None, :]),
            fits.Column("reluncertainty", f"{n}E", array=0.01 * rel[None, :])]
    table = fits.BinTableHDU.from_columns(cols, name="PHOTOM")
    pixar = {"PIXAR_SR": synth_stage2.pixel_area_sr(det), "PIXAR_A2": det.pixel_scale ** 2}
    return "Synthetic LRS P750L spectrophotometric calibration", {}, {"PHOTOM": table}, pixar


def _pathloss(det: Detector, exp_type: str):
    lam = TABLE_WAVELENGTHS[::-1]  # decreasing, as the CRDS files (jwst flips them)
    cross = PATHLOSS_Y * det.pixel_scale
    trans = slit_transmission(lam[:, None], cross[None, :], det.pixel_scale)          # (nwave, ny)
    corr = np.broadcast_to((1.0 / trans)[:, :, None], (len(lam), len(PATHLOSS_Y), len(PATHLOSS_X)))
    shape = f"({len(PATHLOSS_X)},{len(PATHLOSS_Y)})"
    n2 = len(PATHLOSS_X) * len(PATHLOSS_Y)
    cols = [fits.Column("wavelength", "E", unit="um", array=lam),
            fits.Column("pathloss", f"{n2}E", dim=shape, array=corr.astype(np.float32)),
            fits.Column("pathloss_err", f"{n2}E", dim=shape, array=np.zeros(corr.shape, np.float32))]
    table = fits.BinTableHDU.from_columns(cols, name="PATHLOSS")
    h = table.header
    for key, value in {"WCSAXES": 2, "CRPIX1": 1.0, "CRVAL1": float(PATHLOSS_X[0]), "CDELT1": 2.0,
                       "CRPIX2": 1.0, "CRVAL2": float(PATHLOSS_Y[0]), "CDELT2": 0.25, "CTYPE1": "PIXEL",
                       "CTYPE2": "PIXEL", "CUNIT1": "pixel", "CUNIT2": "pixel"}.items():
        h[key] = value
    return "Synthetic LRS point-source slit-loss correction", {}, {"PATHLOSS": table}, {}


def _apcorr(det: Detector, exp_type: str):
    lam, size = TABLE_WAVELENGTHS, APCORR_SIZES
    sigma_pix = psf_sigma_arcsec(lam, det.pixel_scale) / det.pixel_scale
    corr = 1.0 / erf(size[None, :] / (2.0 * math.sqrt(2.0) * sigma_pix[:, None]))   # (nwave, nsize)
    nw, ns = len(lam), len(size)
    cols = [fits.Column("subarray", "17A", array=[LRS_TYPES[exp_type]]),
            fits.Column("wavelength", f"{nw}E", array=lam[None, :]), fits.Column("nelem_wl", "I", array=[nw]),
            fits.Column("size", f"{ns}B", array=size[None, :].astype(np.uint8)),
            fits.Column("nelem_size", "I", array=[ns]),
            fits.Column("apcorr", f"{nw * ns}E", dim=f"({ns},{nw})", array=corr[None].astype(np.float32)),
            fits.Column("apcorr_err", f"{nw * ns}E", dim=f"({ns},{nw})",
                        array=np.zeros((1, nw, ns), np.float32))]
    table = fits.BinTableHDU.from_columns(cols, name="APCORR")
    table.header["SIZEUNIT"] = "pixels"
    return "Synthetic LRS box-extraction aperture correction", {}, {"APCORR": table}, {}


def _flat(det: Detector, exp_type: str):
    bits = {"DO_NOT_USE": 1, "NO_FLAT_FIELD": 2}
    sci, err, bad = synth_stage2.filter_flat(det, FILTER, "N/A")
    sci = sci * (np.float32(syn.nominal(det).gain) / syn.gain(det))  # a flat in DN (module description)
    dq = np.zeros(det.shape, np.uint8)
    dq[bad] = bits["DO_NOT_USE"] | bits["NO_FLAT_FIELD"]
    return "Synthetic LRS P750L flat field", {"SCI": sci, "ERR": err, "DQ": dq}, {"DQ_DEF": dq_def_hdu(bits)}, {}


_BUILDERS = {"specwcs": _specwcs, "photom": _photom, "pathloss": _pathloss, "apcorr": _apcorr, "flat": _flat}


def build(reftype: str, detector: Detector, meta: ExposureMeta, name: str) -> fits.HDUList:
    """generate.py contract: the HDU list of one LRS reference file named ``name``."""
    exp_type = meta.exp_type.upper()
    descrip, images, tables, extra = _BUILDERS[reftype](detector, exp_type)
    header = _header(detector, reftype, exp_type, name, descrip)
    header.update(extra)
    return reffile_hdulist(header, images, tables)
