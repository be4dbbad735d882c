"""Detector geometry and timing facts: formats, orientation, subarrays, readout patterns.

Everything here is a fact about the JWST focal plane, written once and used by the reference
set, the simulator and the steps.  Coordinates are the DMS (science) frame, numpy axis order
``(row, column) = (y, x)``; SUBSTRT1/2 are 1-based, SUBSIZE1/2 are sizes along x / y.

Sources
-------
- Formats, reference-pixel borders, MIRI reference columns: jwst_spec §8.1.
- FASTAXIS/SLOWAXIS: jwst docs, references_general "Orientation of Detector Image" (Table 2);
  NRCA2 1/-2, GUIDER1 -2/-1 and GUIDER2 2/-1 agree with the real headers in extdata.
- NIR frame times: JDox "NIRCam Detector Subarrays":
  4 outputs ``((nfast/4 + 12) (nslow + 1) + 1) x 10 us``; 1 output ``(nfast + 12) (nslow + 2) x 10 us``,
  with nfast/nslow the window size along the detector's fast/slow read directions.  Applied in
  detector orientation it also reproduces NIRISS SUBSTRIP256 = 5.494 s (the fast direction of
  NIS is DMS y).  jwst#3494 quotes 5.29420 s for one-output SUBGRISM256, i.e. ``(nslow + 1)``;
  we follow JDox (5.31480 s) and note the disagreement here.
- FGS guider windows: TFRAME of the real headers in extdata (ACQ1 0.182 s, TRACK 0.01254 s,
  FINEGUIDE 0.00126 s, ID 0.3406 s); guide-star windows move from exposure to exposure.
- MIRI FAST frame times: JDox "MIRI Detector Subarrays" table (2.775, 0.865, 0.300, 0.119, 0.085,
  0.159, 0.240, 0.330 s), given here to 10 us as in archive headers (FULL 2.77504 s).  MIRI SLOW:
  23.890 s full frame (JDox readout comparison table); SLOW is full-frame only.
- Readout patterns (NFRAMES/GROUPGAP): jwst_spec §1.4 for NIRCam; the FGS guide modes from the
  real headers (ACQ1/TRACK 1/1, FINEGUIDE 4/39, ID 1/0).
- Subarray positions: MIRI from the JDox table; NIRISS SOSS strips and NIRCam grism stripes
  sit on the detector edge that keeps reference rows; the NIRCam point-source subarrays
  (SUB64P/160P/400P) are placed in the DMS (1, 1) corner for every SCA and the NIRSpec
  SUB2048/512/32 and ALLSLITS rows are approximate (their true corner differs per SCA).
  Frame times do not depend on these positions for NIR detectors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

#: Seconds per pixel read (NIR and MIRI).
TSAMPLE_S = 10e-6
#: Width of the NIR reference-pixel border, pixels.
NIR_BORDER = 4


@dataclass(frozen=True)
class Detector:
    """One detector (SCA).

    Attributes
    ----------
    name : str
        DETECTOR keyword (``"NRCA1"``).
    instrument : str
        INSTRUME keyword (``"NIRCAM"``).
    shape : (int, int)
        Full-frame ``(ny, nx)``.
    fastaxis, slowaxis : int
        Signed readout directions in the DMS frame (FASTAXIS/SLOWAXIS).
    pixel_scale : float
        Mean pixel scale, arcsec/pixel.
    module, channel : str
        MODULE and CHANNEL keyword values (``"N/A"`` where not used).
    """

    name: str
    instrument: str
    shape: tuple[int, int]
    fastaxis: int
    slowaxis: int
    pixel_scale: float
    module: str = "N/A"
    channel: str = "N/A"

    @property
    def is_miri(self) -> bool:
        return self.instrument == "MIRI"

    def reference_pixel_mask(self) -> np.ndarray:
        """Full-frame boolean mask, True on reference pixels.

        NIR: the 4-pixel border.  MIRI: columns 0-3 and 1028-1031 (no reference rows).

        Examples
        --------
        >>> m = DETECTORS["MIRIMAGE"].reference_pixel_mask()
        >>> m.shape, int(m.sum()), bool(m[0, 3]), bool(m[0, 4])
        ((1024, 1032), 8192, True, False)
        """
        ny, nx = self.shape
        mask = np.zeros(self.shape, dtype=bool)
        mask[:, :NIR_BORDER] = True
        mask[:, nx - NIR_BORDER:] = True
        if not self.is_miri:
            mask[:NIR_BORDER, :] = True
            mask[ny - NIR_BORDER:, :] = True
        return mask


def _nircam(name: str, module: str, channel: str, fast: int, slow: int) -> Detector:
    scale = 0.0311 if channel == "SHORT" else 0.0630
    return Detector(name, "NIRCAM", (2048, 2048), fast, slow, scale, module, channel)


DETECTORS: dict[str, Detector] = {d.name: d for d in (
    _nircam("NRCA1", "A", "SHORT", -1, 2), _nircam("NRCA2", "A", "SHORT", 1, -2),
    _nircam("NRCA3", "A", "SHORT", -1, 2), _nircam("NRCA4", "A", "SHORT", 1, -2),
    _nircam("NRCALONG", "A", "LONG", -1, 2),
    _nircam("NRCB1", "B", "SHORT", 1, -2), _nircam("NRCB2", "B", "SHORT", -1, 2),
    _nircam("NRCB3", "B", "SHORT", 1, -2), _nircam("NRCB4", "B", "SHORT", -1, 2),
    _nircam("NRCBLONG", "B", "LONG", 1, -2),
    Detector("NIS", "NIRISS", (2048, 2048), -2, -1, 0.0656),
    Detector("NRS1", "NIRSPEC", (2048, 2048), 2, 1, 0.1043),
    Detector("NRS2", "NIRSPEC", (2048, 2048), -2, -1, 0.1043),
    Detector("GUIDER1", "FGS", (2048, 2048), -2, -1, 0.0690),
    Detector("GUIDER2", "FGS", (2048, 2048), 2, -1, 0.0690),
    Detector("MIRIMAGE", "MIRI", (1024, 1032), 1, 2, 0.1108),
    Detector("MIRIFUSHORT", "MIRI", (1024, 1032), 1, 2, 0.196, channel="12"),
    Detector("MIRIFULONG", "MIRI", (1024, 1032), 1, 2, 0.245, channel="34"),
)}


def get_detector(name: str) -> Detector:
    """The :class:`Detector` of a DETECTOR keyword value (case-insensitive).

    Raises
    ------
    KeyError
        Unknown detector; the message lists the known ones.
    """
    key = str(name).strip().upper()
    if key not in DETECTORS:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    return DETECTORS[key]


# ------------------------------------------------------------------------------- frame time

def nir_frame_time(nfast: int, nslow: int, noutputs: int) -> float:
    """NIR frame time, s, from the window size along the fast and slow read directions.

    Parameters
    ----------
    nfast, nslow : int
        Window size, pixels, along the fast (within a row of the readout) and slow directions.
    noutputs : int
        1 or 4 amplifier outputs.

    Examples
    --------
    >>> round(nir_frame_time(2048, 2048, 4), 5)      # NIR full frame
    10.73677
    >>> round(nir_frame_time(400, 400, 1), 5)        # NIRCam SUB400P
    1.65624
    """
    if noutputs == 4:
        return ((nfast / 4 + 12) * (nslow + 1) + 1) * TSAMPLE_S
    if noutputs == 1:
        return (nfast + 12) * (nslow + 2) * TSAMPLE_S
    raise ValueError(f"NIR detectors read through 1 or 4 outputs, not {noutputs}")


def window_frame_time(detector: Detector, subsize1: int, subsize2: int, noutputs: int) -> float:
    """Frame time, s, of a DMS window ``subsize1 x subsize2`` on a NIR detector: the sizes are
    mapped to the fast/slow read directions with FASTAXIS (|FASTAXIS| = 2: fast along DMS y)."""
    if detector.is_miri:
        raise ValueError("MIRI frame times are tabulated per subarray, not computed")
    if abs(detector.fastaxis) == 1:
        return nir_frame_time(subsize1, subsize2, noutputs)
    return nir_frame_time(subsize2, subsize1, noutputs)


# --------------------------------------------------------------------------------- subarrays

@dataclass(frozen=True)
class Subarray:
    """A readout window.

    Attributes
    ----------
    name : str
        SUBARRAY keyword value.
    substrt1, substrt2 : int
        1-based start column / row in full-frame DMS coordinates.
    subsize1, subsize2 : int
        Number of columns / rows.
    noutputs : int
        Amplifier outputs used.
    tframe : float
        Frame time, s (FAST/RAPID-type patterns; see :func:`frame_time` for MIRI SLOW).
    """

    name: str
    substrt1: int
    substrt2: int
    subsize1: int
    subsize2: int
    noutputs: int
    tframe: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.subsize2, self.subsize1)

    def window(self) -> tuple[slice, slice]:
        """0-based ``(rows, cols)`` slices inside the full frame."""
        y0, x0 = self.substrt2 - 1, self.substrt1 - 1
        return slice(y0, y0 + self.subsize2), slice(x0, x0 + self.subsize1)

    def moved(self, substrt1: int, substrt2: int) -> Subarray:
        """The same window at another position (FGS guide-star windows move)."""
        return replace(self, substrt1=int(substrt1), substrt2=int(substrt2))


def _nir(name, x0, y0, nx, ny, nout, tframe=None):
    """Row of a NIR subarray table; ``tframe`` is computed per detector unless given."""
    return name, (x0, y0, nx, ny, nout, tframe)


_FULL_NIR = dict([_nir("FULL", 1, 1, 2048, 2048, 4)])

#: NIR subarrays per instrument: name -> (substrt1, substrt2, subsize1, subsize2, noutputs, tframe|None)
_NIR_SUBARRAYS: dict[str, dict[str, tuple]] = {
    "NIRCAM": {**_FULL_NIR, **dict([
        _nir("SUB64P", 1, 1, 64, 64, 1), _nir("SUB160P", 1, 1, 160, 160, 1),
        _nir("SUB400P", 1, 1, 400, 400, 1),
        _nir("SUBGRISM64", 1, 1, 2048, 64, 4), _nir("SUBGRISM128", 1, 1, 2048, 128, 4),
        _nir("SUBGRISM256", 1, 1, 2048, 256, 4),
        # coronagraphic (NRCALONG; starts as the real PSFMASK references give them)
        _nir("SUB320A335R", 492, 1502, 320, 320, 1), _nir("SUB320ALWB", 1455, 1508, 320, 320, 1)])},
    "NIRISS": {**_FULL_NIR, **dict([
        _nir("SUBSTRIP96", 1, 1803, 2048, 96, 1), _nir("SUBSTRIP256", 1, 1793, 2048, 256, 1),
        _nir("SUB80", 1, 1, 80, 80, 1), _nir("SUB64", 1, 1, 64, 64, 1),
        _nir("SUB128", 1, 1, 128, 128, 1), _nir("SUB256", 1, 1, 256, 256, 1)])},
    "NIRSPEC": {**_FULL_NIR, **dict([
        _nir("SUB2048", 1, 946, 2048, 32, 1), _nir("SUB512", 1, 946, 512, 32, 1),
        _nir("SUB32", 1, 946, 32, 32, 1), _nir("ALLSLITS", 1, 897, 2048, 256, 1)])},
    # Guide-star windows: default positions of the real files; they move per exposure.
    "FGS": {**_FULL_NIR, **dict([
        _nir("128X128", 887, 1022, 128, 128, 1, tframe=0.182),
        _nir("32X32", 1214, 197, 32, 32, 1, tframe=0.01254),
        _nir("8X8", 1086, 1058, 8, 8, 1, tframe=0.00126),
        _nir("2048X64", 13, 1, 2024, 2048, 4, tframe=0.3406)])},
}

#: MIRI subarrays: name -> (substrt1, substrt2, subsize1, subsize2, FAST tframe s).
_MIRI_SUBARRAYS: dict[str, tuple] = {
    "FULL": (1, 1, 1032, 1024, 2.77504),
    "BRIGHTSKY": (457, 51, 512, 512, 0.86528),
    "SUB256": (413, 51, 256, 256, 0.29952),
    "SUB128": (1, 889, 136, 128, 0.11904),
    "SUB64": (1, 779, 72, 64, 0.08544),
    "SLITLESSPRISM": (1, 529, 72, 416, 0.15904),
    "MASK1065": (1, 19, 288, 224, 0.23968),
    "MASK1140": (1, 245, 288, 224, 0.23968),
    "MASK1550": (1, 467, 288, 224, 0.23968),
    "MASKLYOT": (1, 717, 320, 304, 0.32960),
}
MIRI_SLOW_FULL_TFRAME = 23.890


def subarray_names(detector: str | Detector) -> tuple[str, ...]:
    """Named subarrays streamcal knows for a detector."""
    det = detector if isinstance(detector, Detector) else get_detector(detector)
    table = _MIRI_SUBARRAYS if det.is_miri else _NIR_SUBARRAYS[det.instrument]
    return tuple(table)


def get_subarray(detector: str | Detector, name: str = "FULL", *, noutputs: int | None = None,
                 start: tuple[int, int] | None = None) -> Subarray:
    """A named subarray of a detector, with its frame time.

    Parameters
    ----------
    detector : str or Detector
    name : str
        SUBARRAY value (``"FULL"``, ``"SUB400P"``, ``"128X128"`` ...).
    noutputs : int, optional
        Override the number of outputs (NIRCam grism TSO subarrays allow 1 or 4).
    start : (int, int), optional
        ``(substrt1, substrt2)`` to move the window (FGS guide-star windows).

    Raises
    ------
    KeyError
        Unknown subarray for that detector.
    ValueError
        The window does not fit in the full frame.

    Examples
    --------
    >>> s = get_subarray("NRCA1", "SUBGRISM256", noutputs=1)
    >>> (s.subsize1, s.subsize2, round(s.tframe, 5))
    (2048, 256, 5.3148)
    >>> round(get_subarray("NIS", "SUBSTRIP256").tframe, 3)
    5.494
    """
    det = detector if isinstance(detector, Detector) else get_detector(detector)
    key = str(name).strip().upper()
    if det.is_miri:
        if key not in _MIRI_SUBARRAYS:
            raise KeyError(f"{det.name} has no subarray {name!r}; known: {', '.join(_MIRI_SUBARRAYS)}")
        x0, y0, nx, ny, tframe = _MIRI_SUBARRAYS[key]
        sub = Subarray(key, x0, y0, nx, ny, 4 if noutputs is None else noutputs, tframe)
    else:
        table = _NIR_SUBARRAYS[det.instrument]
        if key not in table:
            raise KeyError(f"{det.name} has no subarray {name!r}; known: {', '.join(table)}")
        x0, y0, nx, ny, nout, tframe = table[key]
        nout = nout if noutputs is None else noutputs
        if tframe is None or noutputs is not None:
            tframe = window_frame_time(det, nx, ny, nout)
        sub = Subarray(key, x0, y0, nx, ny, nout, tframe)
    if start is not None:
        sub = sub.moved(*start)
    check_window(det, sub.substrt1, sub.substrt2, sub.subsize1, sub.subsize2)
    return sub


def check_window(detector: Detector, substrt1: int, substrt2: int, subsize1: int, subsize2: int) -> None:
    """Raise ValueError unless the window lies inside the detector's full frame."""
    ny, nx = detector.shape
    if substrt1 < 1 or substrt2 < 1 or subsize1 < 1 or subsize2 < 1 \
            or substrt1 - 1 + subsize1 > nx or substrt2 - 1 + subsize2 > ny:
        raise ValueError(f"window SUBSTRT=({substrt1},{substrt2}) SUBSIZE=({subsize1},{subsize2}) "
                         f"is outside the {nx}x{ny} frame of {detector.name}")


# -------------------------------------------------------------------------- readout patterns

@dataclass(frozen=True)
class ReadPattern:
    """A MULTIACCUM readout pattern: each group averages NFRAMES frames, then GROUPGAP frames
    are dropped."""

    name: str
    nframes: int
    groupgap: int


def _patterns(*rows: tuple[str, int, int]) -> dict[str, ReadPattern]:
    return {r[0]: ReadPattern(*r) for r in rows}


READ_PATTERNS: dict[str, dict[str, ReadPattern]] = {
    "NIRCAM": _patterns(("RAPID", 1, 0), ("BRIGHT1", 1, 1), ("BRIGHT2", 2, 0), ("SHALLOW2", 2, 3),
                        ("SHALLOW4", 4, 1), ("MEDIUM2", 2, 8), ("MEDIUM8", 8, 2), ("DEEP2", 2, 18),
                        ("DEEP8", 8, 12)),
    "NIRISS": _patterns(("NISRAPID", 1, 0), ("NIS", 4, 0)),
    "NIRSPEC": _patterns(("NRSRAPID", 1, 0), ("NRS", 4, 0)),
    "MIRI": _patterns(("FAST", 1, 0), ("FASTR1", 1, 0), ("SLOW", 1, 0), ("SLOWR1", 1, 0)),
    # FGS science patterns (FGS averages 4 frames like NIS: an assumption) and guide modes.
    "FGS": _patterns(("FGSRAPID", 1, 0), ("FGS", 4, 0), ("ACQ1", 1, 1), ("ACQ2", 1, 1),
                     ("TRACK", 1, 1), ("FINEGUIDE", 4, 39), ("ID", 1, 0)),
}


def get_read_pattern(instrument: str, name: str) -> ReadPattern:
    """The readout pattern ``name`` of an instrument.

    Raises
    ------
    KeyError
        Unknown pattern for that instrument.
    """
    table = READ_PATTERNS[str(instrument).strip().upper()]
    key = str(name).strip().upper()
    if key not in table:
        raise KeyError(f"{instrument} has no readout pattern {name!r}; known: {', '.join(table)}")
    return table[key]


def frame_time(detector: str | Detector, subarray: Subarray, readpatt: str) -> float:
    """TFRAME, s, of a subarray read with a pattern (MIRI SLOW is slower and full-frame only).

    Raises
    ------
    ValueError
        MIRI SLOW on a subarray.
    """
    det = detector if isinstance(detector, Detector) else get_detector(detector)
    if det.is_miri and readpatt.upper().startswith("SLOW"):
        if subarray.name != "FULL":
            raise ValueError("MIRI SLOW readout is full-frame only")
        return MIRI_SLOW_FULL_TFRAME
    return subarray.tframe


def group_time(tframe: float, pattern: ReadPattern) -> float:
    """TGROUP = (NFRAMES + GROUPGAP) * TFRAME, s.

    >>> round(group_time(10.73677, READ_PATTERNS["NIRCAM"]["MEDIUM8"]), 4)
    107.3677
    """
    return (pattern.nframes + pattern.groupgap) * tframe


# --------------------------------------------------------------------------- orientation

def detector_coordinates(detector: Detector, substrt1: int, substrt2: int, subsize1: int,
                         subsize2: int) -> tuple[np.ndarray, np.ndarray]:
    """Detector-frame (readout) row and column of every pixel of a DMS window.

    Returns
    -------
    det_row, det_col : ndarray of int64
        Broadcastable to the window shape ``(subsize2, subsize1)``: one of them is ``(ny, 1)``
        and the other ``(1, nx)``.  Detector columns run along the fast read direction (the
        amplifier stripes are 512 detector columns wide); rows along the slow direction.

    Notes
    -----
    Inverse of jwst's science -> detector transform (jwst_spec §1.5): for |FASTAXIS| = 1 the
    detector column follows DMS x (reversed when FASTAXIS < 0) and the row follows DMS y
    (reversed when SLOWAXIS < 0); for |FASTAXIS| = 2 the detector column follows DMS y and the
    row DMS x.

    Examples
    --------
    NRCA1 (FASTAXIS=-1, SLOWAXIS=2): DMS x=0 is the last detector column.

    >>> r, c = detector_coordinates(DETECTORS["NRCA1"], 1, 1, 2048, 2048)
    >>> int(c[0, 0]), int(r[0, 0]), c.shape, r.shape
    (2047, 0, (1, 2048), (2048, 1))
    """
    ny_full, nx_full = detector.shape
    xs = np.arange(substrt1 - 1, substrt1 - 1 + subsize1)
    ys = np.arange(substrt2 - 1, substrt2 - 1 + subsize2)
    fast_sign, slow_sign = np.sign(detector.fastaxis), np.sign(detector.slowaxis)
    if abs(detector.fastaxis) == 1:
        col = xs if fast_sign > 0 else nx_full - 1 - xs
        row = ys if slow_sign > 0 else ny_full - 1 - ys
        return row[:, None], col[None, :]
    col = ys if fast_sign > 0 else ny_full - 1 - ys
    row = xs if slow_sign > 0 else nx_full - 1 - xs
    return row[None, :], col[:, None]


def amplifier_index(det_col: np.ndarray, noutputs: int, ncols_full: int = 2048) -> np.ndarray:
    """Amplifier (0..3) reading each detector column; all 0 for one-output reads.

    >>> amplifier_index(np.array([0, 511, 512, 2047]), 4).tolist()
    [0, 0, 1, 3]
    """
    if noutputs == 1:
        return np.zeros_like(det_col)
    return det_col // (ncols_full // noutputs)


def filter_wavelength_um(filter_name: str | None, instrument: str) -> float:
    """Pivot-ish wavelength, um, from a JWST filter name: ``F200W`` -> 2.00, ``F1130W`` -> 11.3
    (the digits are hundredths of a micron in both the NIR and MIRI conventions).  Names without
    digits (CLEAR, N/A) give a typical wavelength of the instrument."""
    match = re.search(r"F(\d{3,4})", str(filter_name or "").upper())
    if match:
        return int(match.group(1)) / 100.0
    return {"MIRI": 7.7, "NIRSPEC": 1.5, "FGS": 2.5}.get(instrument, 2.0)
