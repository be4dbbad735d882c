"""Headers and tables of a simulated ``_uncal`` file, as the archive writes them.

Keyword set: jwst_spec §1.3 and the real headers in extdata (identity, program, target,
instrument configuration, exposure timing, subarray, dither; WCS and pointing in the SCI
header); GROUP and INT_TIMES tables with the columns of jwst_spec §1.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.time import Time

from ..detectors import Detector, ReadPattern, Subarray
from ..wcs import Pointing, apertures

#: Sensor chip assembly numbers (SCA_NUM).
SCA_NUM = {"NRCA1": 481, "NRCA2": 482, "NRCA3": 483, "NRCA4": 484, "NRCALONG": 485, "NRCB1": 486,
           "NRCB2": 487, "NRCB3": 488, "NRCB4": 489, "NRCBLONG": 490, "NRS1": 491, "NRS2": 492,
           "MIRIMAGE": 493, "MIRIFULONG": 494, "MIRIFUSHORT": 495, "NIS": 496, "GUIDER1": 497,
           "GUIDER2": 498}


def aperture_reference(detector: Detector) -> tuple[float, float, float]:
    """(V2_REF, V3_REF, V3I_YANG) of a detector's full-frame aperture (approximate; the table
    is :data:`streamcal.wcs.apertures.APERTURE`, shared with the synthetic distortion files)."""
    return apertures.aperture_reference(detector.name)


@dataclass(frozen=True)
class Timing:
    """Exposure timing, s (and MJD for the start)."""

    tframe: float
    tgroup: float
    nframes: int
    groupgap: int
    ngroups: int
    nints: int
    expstart_mjd: float

    @property
    def effinttm(self) -> float:
        """From the first read to the last: (NGROUPS-1)*TGROUP + NFRAMES*TFRAME."""
        return (self.ngroups - 1) * self.tgroup + self.nframes * self.tframe

    @property
    def integration_cycle(self) -> float:
        """One integration plus its reset frame."""
        return self.effinttm + self.tframe

    @property
    def duration(self) -> float:
        return self.nints * self.integration_cycle

    def mjd(self, seconds: float) -> float:
        return self.expstart_mjd + seconds / 86400.0


def exposure_filename(program: int, observation: int, visit: int, visitgrp: int, seq_id: int,
                      act_id: int, exposure: int, detector: str, suffix: str = "uncal") -> str:
    """``jw<ppppp><ooo><vvv>_<gg><s><aa>_<eeeee>_<detector>_<suffix>.fits`` (aa in base 36).

    >>> exposure_filename(1234, 1, 1, 2, 1, 1, 3, "NRCA1")
    'jw01234001001_02101_00003_nrca1_uncal.fits'
    """
    return (f"jw{program:05d}{observation:03d}{visit:03d}_{visitgrp:02d}{seq_id:1d}{_base36(act_id)}_"
            f"{exposure:05d}_{detector.lower()}_{suffix}.fits")


def guider_filename(program: int, observation: int, visit: int, exp_type: str, start_mjd: float) -> str:
    """Guide-star file name ``jw<ppppp><ooo><vvv>_gs-<mode>_<yyyydddhhmmss>_uncal.fits``
    (the pattern of the real FGS ACQ1 file).

    >>> guider_filename(1019, 1, 1, "FGS_ACQ1", 59696.02)
    'jw01019001001_gs-acq1_2022117002848_uncal.fits'
    """
    mode = {"FGS_FINEGUIDE": "fg", "FGS_ID-IMAGE": "id", "FGS_ID-STACK": "id"}.get(
        exp_type, exp_type.split("_", 1)[1].lower())
    stamp = Time(start_mjd, format="mjd", scale="utc").strftime("%Y%j%H%M%S")
    return f"jw{program:05d}{observation:03d}{visit:03d}_gs-{mode}_{stamp}_uncal.fits"


def _base36(value: int, width: int = 2) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, r = divmod(value, 36)
        out = digits[r] + out
    return out.rjust(width, "0")


def iso_time(mjd: float) -> str:
    """ISO-8601 UTC string of an MJD."""
    return Time(mjd, format="mjd", scale="utc").isot


def timing_cards(t: Timing) -> dict:
    """EXPSTART..XPOSURE, DATE-OBS/TIME-OBS/DATE-BEG/DATE-END."""
    start, end = t.expstart_mjd, t.mjd(t.duration)
    iso = iso_time(start)
    return {"DATE-OBS": iso[:10], "TIME-OBS": iso[11:23], "DATE-BEG": iso[:23], "DATE-END": iso_time(end)[:23],
            "EXPSTART": start, "EXPMID": 0.5 * (start + end), "EXPEND": end,
            "NINTS": t.nints, "NGROUPS": t.ngroups, "NFRAMES": t.nframes, "GROUPGAP": t.groupgap,
            "FRMDIVSR": t.nframes, "TSAMPLE": 10.0, "NSAMPLES": 1,
            "TFRAME": round(t.tframe, 7), "TGROUP": round(t.tgroup, 7),
            "EFFINTTM": round(t.effinttm, 6), "EFFEXPTM": round(t.effinttm * t.nints, 6),
            "DURATION": round(t.duration, 6), "XPOSURE": round(t.effinttm * t.nints, 6),
            "NRSTSTRT": 1, "NRESETS": 1, "DRPFRMS1": 0, "DRPFRMS3": 0}


def sci_header(pointing: Pointing, wcs_cards: fits.Header, t: Timing,
               reference_pixel: tuple[float, float] | None = None) -> fits.Header:
    """SCI extension header: BUNIT, the pointing (RA_REF ... VA_SCALE, as the header claims it)
    and a FITS WCS (``wcs_cards``: the TAN approximation raw files carry); with
    ``reference_pixel`` (1-based x, y in the window) also XREF_SCI/YREF_SCI, the aperture
    reference where the target sits (tso_photometry starts its centroid there)."""
    hdr = fits.Header()
    hdr["BUNIT"] = "DN"
    hdr["RADESYS"] = "ICRS"
    hdr.update(pointing.to_cards())
    hdr.update({"PA_APER": pointing.roll_ref + pointing.v3yangle, "PA_V3": pointing.roll_ref})
    hdr.extend(wcs_cards, update=True)
    hdr.update({"MJD-BEG": t.expstart_mjd, "MJD-AVG": t.mjd(t.duration / 2), "MJD-END": t.mjd(t.duration),
                "XPOSURE": round(t.effinttm * t.nints, 6), "TELAPSE": round(t.duration, 6)})
    if reference_pixel is not None:
        hdr["XREF_SCI"] = (round(float(reference_pixel[0]), 4), "Aperture X reference point in SCI frame")
        hdr["YREF_SCI"] = (round(float(reference_pixel[1]), 4), "Aperture Y reference point in SCI frame")
    return hdr


def group_table(t: Timing, shape: tuple[int, int]) -> fits.BinTableHDU:
    """GROUP table: one row per (integration, group) with its end time."""
    ints, groups = np.meshgrid(np.arange(1, t.nints + 1), np.arange(1, t.ngroups + 1), indexing="ij")
    ints, groups = ints.ravel(), groups.ravel()
    # end of group g of integration i: start of the integration + its frames up to the last of g
    seconds = (ints - 1) * t.integration_cycle + (groups - 1) * t.tgroup + t.nframes * t.tframe
    mjd = t.expstart_mjd + seconds / 86400.0
    times = Time(mjd, format="mjd", scale="utc")
    day_of_year = np.array([int(s[5:8]) for s in times.strftime("%Y:%j")]) if len(mjd) else np.zeros(0)
    ms_of_day = np.round((mjd % 1.0) * 86400e3).astype(np.int32)
    n = len(mjd)
    cols = [fits.Column("integration_number", "I", array=ints.astype(np.int16)),
            fits.Column("group_number", "I", array=groups.astype(np.int16)),
            fits.Column("end_day", "I", array=day_of_year.astype(np.int16)),
            fits.Column("end_milliseconds", "J", array=ms_of_day),
            fits.Column("end_submilliseconds", "I", array=np.zeros(n, np.int16)),
            fits.Column("group_end_time", "26A", array=[s[:26] for s in times.isot]),
            fits.Column("number_of_columns", "I", array=np.full(n, shape[1], np.int16)),
            fits.Column("number_of_rows", "I", array=np.full(n, shape[0], np.int16)),
            fits.Column("number_of_gaps", "I", array=np.zeros(n, np.int16)),
            fits.Column("completion_code_number", "I", array=np.zeros(n, np.int16)),
            fits.Column("completion_code_text", "36A", array=["COMPLETE"] * n),
            fits.Column("bary_end_time", "D", array=mjd), fits.Column("helio_end_time", "D", array=mjd)]
    return fits.BinTableHDU.from_columns(cols, name="GROUP")


def int_times_table(t: Timing) -> fits.BinTableHDU:
    """INT_TIMES table: start/mid/end of each integration, MJD (UTC; the BJD_TDB columns repeat
    the UTC values: no barycentric correction is simulated)."""
    k = np.arange(t.nints)
    start = t.expstart_mjd + k * t.integration_cycle / 86400.0
    end = start + t.effinttm / 86400.0
    mid = 0.5 * (start + end)
    cols = [fits.Column("integration_number", "J", array=(k + 1).astype(np.int32))]
    for name, values in (("int_start_MJD_UTC", start), ("int_mid_MJD_UTC", mid), ("int_end_MJD_UTC", end),
                         ("int_start_BJD_TDB", start), ("int_mid_BJD_TDB", mid), ("int_end_BJD_TDB", end)):
        cols.append(fits.Column(name, "D", array=values))
    return fits.BinTableHDU.from_columns(cols, name="INT_TIMES")


def subarray_cards(detector: Detector, sub: Subarray) -> dict:
    return {"SUBARRAY": sub.name, "SUBSTRT1": sub.substrt1, "SUBSTRT2": sub.substrt2,
            "SUBSIZE1": sub.subsize1, "SUBSIZE2": sub.subsize2,
            "FASTAXIS": detector.fastaxis, "SLOWAXIS": detector.slowaxis, "NOUTPUTS": sub.noutputs}


def readout_cards(detector: Detector, pattern: ReadPattern, t: Timing) -> dict:
    cards = {"READPATT": pattern.name, **timing_cards(t)}
    if detector.is_miri:
        cards.update({"MIRNGRPS": t.ngroups, "MIRNFRMS": t.nframes})
    return cards
