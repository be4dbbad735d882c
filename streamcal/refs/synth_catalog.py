"""Synthetic APCORR and ABVEGAOFFSET references for source_catalog, consistent with the simulator.

APCORR (jwst ``*ImgApcorrModel``): a FITS table ``APCORR`` with one row per (optical element,
encircled-energy fraction) -- columns ``filter``, ``pupil`` (NIRCam/NIRISS) or ``subarray``
(MIRI), ``eefraction``, ``radius`` (native pixels), ``apcorr``, ``skyin``, ``skyout`` (pixels).
ABVEGAOFFSET (jwst ``ABVegaOffsetModel``): an ASDF file, as jwst ships it (ABVegaOffsetModel
has no FITS layout: jwst reads the table only from an ASDF tree), whose ``abvega_offset`` table
has ``filter``/``pupil`` (NIRCam/NIRISS), ``filter`` (MIRI) or ``detector`` (FGS) and
``abvega_offset`` = m_AB - m_Vega.

The point-spread function is the simulator's (:func:`streamcal.sim.scene.psf_sigma_pixels`): a
Gaussian, integrated over the detector pixel (variance + 1/12 pixel^2), resampled by drizzle
(pixfrac 1, square kernel, native scale: each output pixel averages the overlapping input pixels,
a triangle of width 2 at a random sub-pixel phase: + 2/12 on average) and measured by
exact-overlap apertures that treat each pixel as uniform (+ 1/12).  The radii and corrections
here describe what aperture photometry of a resampled point source measures: sigma^2 + 4/12
(checked against photutils on rendered images in tests/test_step_source_catalog.py and on the
whole simulated pipeline in tests/test_image3_truth.py).
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits

from ..detectors import Detector
from ..detectors import filter_wavelength_um
from ..sim.scene import psf_sigma_pixels

__all__ = ["EE_FRACTIONS", "FILTERS", "apcorr_rows", "abvega_rows", "effective_sigma_pixels",
           "abvega_offset", "build_apcorr", "abvegaoffset_tree"]

#: Encircled-energy fractions tabulated (jwst files hold 0.2 ... 0.8 by 0.1).
EE_FRACTIONS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

#: Imaging optical elements per instrument as (FILTER, PUPIL) pairs.  NIRISS puts some imaging
#: filters in the pupil wheel (FILTER=CLEAR, PUPIL=F150W, as the simulator writes them).
_NRC = ("F070W F090W F115W F140M F150W F162M F164N F150W2 F182M F187N F200W F210M F212N "
        "F250M F277W F300M F322W2 F335M F356W F360M F410M F430M F444W F460M F480M").split()
_NIS_FILTER_WHEEL = "F277W F356W F380M F430M F444W F480M".split()
_NIS_PUPIL_WHEEL = "F090W F115W F140M F150W F158M F200W".split()
_MIRI = "F560W F770W F1000W F1130W F1280W F1500W F1800W F2100W F2550W".split()
FILTERS: dict[str, tuple[tuple[str, str], ...]] = {
    "NIRCAM": tuple((f, "CLEAR") for f in _NRC),
    "NIRISS": tuple((f, "CLEARP") for f in _NIS_FILTER_WHEEL) + tuple(("CLEAR", p) for p in _NIS_PUPIL_WHEEL),
    "MIRI": tuple((f, "N/A") for f in _MIRI),
    "FGS": (("N/A", "N/A"),),
}
_MIRI_SUBARRAYS = ("FULL", "BRIGHTSKY", "SUB256", "SUB128", "SUB64")
_APCORR_MODEL = {"NIRCAM": "NrcImgApcorrModel", "NIRISS": "NisImgApcorrModel",
                 "MIRI": "MirImgApcorrModel", "FGS": "FgsImgApcorrModel"}

#: Vega as a 9550 K black body scaled to 3640 Jy at 0.55 um -- a synthetic stand-in for the
#: CALSPEC spectrum (AB - Vega comes out 1.6 mag at 2.2 um; real K-band: 1.85).
_VEGA_T_K, _VEGA_JY_055 = 9550.0, 3640.0
_AB_ZERO_JY = 3631.0
_HC_OVER_K_UM_K = 14387.77


def _element_wavelength(instrument: str, filt: str, pupil: str) -> float:
    """Wavelength, um, of the optical element that is not CLEAR."""
    name = pupil if filt.upper().startswith("CLEAR") else filt
    return filter_wavelength_um(name, instrument)


def effective_sigma_pixels(detector: Detector, wavelength_um: float) -> float:
    """Gaussian sigma, native pixels, of a point source as aperture photometry of a resampled
    (``i2d``) image sees it: the simulator's PSF variance plus 1/12 (detector pixel), 2/12
    (drizzle at a random sub-pixel phase) and 1/12 (aperture pixelisation).

    >>> from streamcal.detectors import DETECTORS
    >>> round(effective_sigma_pixels(DETECTORS["NRCA1"], 2.0), 3)   # sqrt(1.0216^2 + 4/12)
    1.173
    """
    sigma = psf_sigma_pixels(wavelength_um, detector.pixel_scale)
    return math.sqrt(sigma ** 2 + 4.0 / 12.0)


def _sky_annulus(sigma: float) -> tuple[float, float]:
    """Background annulus radii, pixels: from 5 sigma (where a Gaussian has 4e-6 of its flux
    left outside) to 8 sigma, whole pixels."""
    return float(math.ceil(5.0 * sigma)), float(math.ceil(8.0 * sigma))


def _measured_fraction(radius: float, sigma: float, skyin: float, skyout: float) -> float:
    """Fraction of a Gaussian's flux an aperture of ``radius`` keeps after the local background
    (the annulus mean per pixel x aperture area) is subtracted: the annulus holds a little PSF."""
    enclosed = 1.0 - math.exp(-radius ** 2 / (2 * sigma ** 2))
    ring = math.exp(-skyin ** 2 / (2 * sigma ** 2)) - math.exp(-skyout ** 2 / (2 * sigma ** 2))
    return enclosed - ring * radius ** 2 / (skyout ** 2 - skyin ** 2)


def apcorr_rows(detector: Detector) -> list[dict]:
    """APCORR table rows for every imaging optical element (and MIRI subarray) of the detector's
    instrument: the radius enclosing each EE fraction of the effective PSF and the factor from
    background-subtracted aperture flux to total flux.

    Examples
    --------
    >>> from streamcal.detectors import DETECTORS
    >>> row = [r for r in apcorr_rows(DETECTORS["NRCA1"]) if r["filter"] == "F200W"
    ...        and r["eefraction"] == 0.5][0]
    >>> round(row["radius"], 3), round(row["apcorr"], 4)   # 1.173 * sqrt(2 ln 2); 1 / 0.5
    (1.382, 2.0)
    """
    rows = []
    for filt, pupil in FILTERS.get(detector.instrument, ()):
        sigma = effective_sigma_pixels(detector, _element_wavelength(detector.instrument, filt, pupil))
        skyin, skyout = _sky_annulus(sigma)
        for ee in EE_FRACTIONS:
            radius = sigma * math.sqrt(-2.0 * math.log(1.0 - ee))
            row = {"filter": filt, "pupil": pupil, "eefraction": ee, "radius": radius,
                   "apcorr": 1.0 / _measured_fraction(radius, sigma, skyin, skyout),
                   "skyin": skyin, "skyout": skyout}
            subarrays = _MIRI_SUBARRAYS if detector.instrument == "MIRI" else (None,)
            rows += [{**row, "subarray": s} if s else row for s in subarrays]
    return rows


def abvega_offset(wavelength_um: float) -> float:
    """m_AB - m_Vega at a wavelength, mag, for the synthetic black-body Vega.

    >>> round(abvega_offset(0.55), 3)       # Vega is ~0 mag AB in V by construction
    -0.003
    """
    def planck_nu(lam: float) -> float:
        return (1.0 / lam) ** 3 / math.expm1(_HC_OVER_K_UM_K / (lam * _VEGA_T_K))
    vega_jy = _VEGA_JY_055 * planck_nu(wavelength_um) / planck_nu(0.55)
    return 2.5 * math.log10(_AB_ZERO_JY / vega_jy)


def abvega_rows(detector: Detector) -> list[dict]:
    """ABVEGAOFFSET rows: per (filter, pupil); FGS per detector."""
    inst = detector.instrument
    if inst == "FGS":
        return [{"detector": name, "abvega_offset": abvega_offset(filter_wavelength_um(None, inst))}
                for name in ("GUIDER1", "GUIDER2")]
    return [{"filter": f, "pupil": p, "abvega_offset": abvega_offset(_element_wavelength(inst, f, p))}
            for f, p in FILTERS.get(inst, ())]


def _columns(rows: list[dict], names: tuple[str, ...]) -> list[fits.Column]:
    cols = []
    for name in names:
        values = [r[name] for r in rows]
        if isinstance(values[0], str):
            cols.append(fits.Column(name, "12A", array=values))
        else:
            cols.append(fits.Column(name, "E", array=np.asarray(values, np.float32)))
    return cols


def build_apcorr(detector: Detector, meta=None):
    """Generator builder (see :mod:`streamcal.refs.generate`): the APCORR table of the jwst
    imaging layout of the detector's instrument."""
    inst = detector.instrument
    key = {"NIRCAM": ("filter", "pupil"), "NIRISS": ("filter", "pupil"), "MIRI": ("filter", "subarray"),
           "FGS": ()}[inst]
    rows = apcorr_rows(detector)
    table = fits.BinTableHDU.from_columns(
        _columns(rows, key + ("eefraction", "radius", "apcorr", "skyin", "skyout")), name="APCORR")
    return ("Synthetic aperture corrections from the simulator's Gaussian PSF (resampled image)",
            {}, {"APCORR": table}, {"SUBARRAY": "GENERIC", "DATAMODL": _APCORR_MODEL[inst]})


def abvegaoffset_tree(detector: Detector, name: str, version: str) -> dict:
    """The ASDF tree of a synthetic ABVEGAOFFSET file: ``meta`` and the ``abvega_offset``
    table (m_AB - m_Vega per optical element, FGS per detector)."""
    from astropy.table import Table

    inst = detector.instrument
    key = {"NIRCAM": ("filter", "pupil"), "NIRISS": ("filter", "pupil"), "MIRI": ("filter",),
           "FGS": ("detector",)}[inst]
    rows = abvega_rows(detector)
    table = Table({col: [row[col] for row in rows] for col in key + ("abvega_offset",)})
    meta = {"reftype": "abvegaoffset", "model_type": "ABVegaOffsetModel", "filename": name, "telescope": "JWST",
            "instrument": {"name": inst, "detector": detector.name}, "subarray": {"name": "GENERIC"},
            "useafter": "2022-01-01T00:00:00", "pedigree": "DUMMY", "author": "streamcal synthetic reference set",
            "description": "Synthetic AB - Vega offsets (9550 K black-body Vega)", "synthver": version}
    return {"meta": meta, "abvega_offset": table}
