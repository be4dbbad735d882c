"""The JWST data-quality bit registry (stdatamodels ``dqflags``), defined once.

GROUPDQ arrays are ``uint8`` and only use bits 0-7; PIXELDQ and all 2-D/3-D DQ arrays are
``uint32``.  Kernels receive plain integers from here, never literal bit values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlagDefinition:
    """One DQ bit: its position, value, mnemonic and meaning."""

    bit: int
    name: str
    description: str

    @property
    def value(self) -> int:
        return 1 << self.bit


FLAGS: tuple[FlagDefinition, ...] = (
    FlagDefinition(0, "DO_NOT_USE", "Bad pixel. Do not use."),
    FlagDefinition(1, "SATURATED", "Pixel saturated during exposure"),
    FlagDefinition(2, "JUMP_DET", "Jump detected during exposure"),
    FlagDefinition(3, "DROPOUT", "Data lost in transmission"),
    FlagDefinition(4, "OUTLIER", "Flagged by outlier detection"),
    FlagDefinition(5, "PERSISTENCE", "High persistence"),
    FlagDefinition(6, "AD_FLOOR", "Below A/D floor"),
    FlagDefinition(7, "CHARGELOSS", "Charge migration"),
    FlagDefinition(8, "RESERVED", "Reserved"),
    FlagDefinition(9, "NON_SCIENCE", "Pixel not on science portion of detector"),
    FlagDefinition(10, "DEAD", "Dead pixel"),
    FlagDefinition(11, "HOT", "Hot pixel"),
    FlagDefinition(12, "WARM", "Warm pixel"),
    FlagDefinition(13, "LOW_QE", "Low quantum efficiency"),
    FlagDefinition(14, "RC", "RC pixel"),
    FlagDefinition(15, "TELEGRAPH", "Telegraph pixel"),
    FlagDefinition(16, "NONLINEAR", "Pixel highly nonlinear"),
    FlagDefinition(17, "BAD_REF_PIXEL", "Reference pixel cannot be used"),
    FlagDefinition(18, "NO_FLAT_FIELD", "Flat field cannot be measured"),
    FlagDefinition(19, "NO_GAIN_VALUE", "Gain cannot be measured"),
    FlagDefinition(20, "NO_LIN_CORR", "Linearity correction not available"),
    FlagDefinition(21, "NO_SAT_CHECK", "Saturation check not available"),
    FlagDefinition(22, "UNRELIABLE_BIAS", "Bias variance large"),
    FlagDefinition(23, "UNRELIABLE_DARK", "Dark variance large"),
    FlagDefinition(24, "UNRELIABLE_SLOPE", "Slope variance large (i.e., noisy pixel)"),
    FlagDefinition(25, "UNRELIABLE_FLAT", "Flat variance large"),
    FlagDefinition(26, "OPEN", "Open pixel (counts move to adjacent pixels)"),
    FlagDefinition(27, "ADJ_OPEN", "Adjacent to open pixel"),
    FlagDefinition(28, "FLUX_ESTIMATED", "Pixel flux estimated due to missing/bad data"),
    FlagDefinition(29, "MSA_FAILED_OPEN", "Pixel sees light from failed-open shutter"),
    FlagDefinition(30, "OTHER_BAD_PIXEL", "A catch-all flag"),
    FlagDefinition(31, "REFERENCE_PIXEL", "Pixel is a reference pixel"),
)

#: Mnemonic -> bit value, e.g. ``DQ["SATURATED"] == 2``.
DQ: dict[str, int] = {f.name: f.value for f in FLAGS}

DO_NOT_USE = DQ["DO_NOT_USE"]
SATURATED = DQ["SATURATED"]
JUMP_DET = DQ["JUMP_DET"]
DROPOUT = DQ["DROPOUT"]
OUTLIER = DQ["OUTLIER"]
PERSISTENCE = DQ["PERSISTENCE"]
AD_FLOOR = DQ["AD_FLOOR"]
CHARGELOSS = DQ["CHARGELOSS"]
NON_SCIENCE = DQ["NON_SCIENCE"]
DEAD = DQ["DEAD"]
HOT = DQ["HOT"]
NO_FLAT_FIELD = DQ["NO_FLAT_FIELD"]
NO_GAIN_VALUE = DQ["NO_GAIN_VALUE"]
NO_LIN_CORR = DQ["NO_LIN_CORR"]
NO_SAT_CHECK = DQ["NO_SAT_CHECK"]
UNRELIABLE_SLOPE = DQ["UNRELIABLE_SLOPE"]
REFERENCE_PIXEL = DQ["REFERENCE_PIXEL"]


def translate_dq(dq: np.ndarray, dq_def: dict[str, int] | None) -> np.ndarray:
    """Translate a reference file's own DQ bit values to the JWST standard ones.

    Parameters
    ----------
    dq : ndarray of uint32
        DQ array as stored in the reference file.
    dq_def : dict or None
        The file's ``DQ_DEF`` table as ``{name: value}``.  ``None`` (no table) means the file
        already uses the standard values.

    Returns
    -------
    ndarray of uint32
        DQ in standard bit values; bits whose mnemonic is unknown are dropped.  When the
        table maps every name to its standard value, ``dq`` itself is returned (no copy).

    Examples
    --------
    >>> translate_dq(np.array([1, 2], np.uint32), {"DO_NOT_USE": 1, "DEAD": 2}).tolist()
    [1, 1024]
    """
    dq = np.asarray(dq, dtype=np.uint32)
    mapping = {int(v): DQ.get(n.strip().upper(), 0) for n, v in (dq_def or {}).items() if v}
    if all(src == dst for src, dst in mapping.items()):
        return dq  # the file already uses the standard values (all synthetic and most CRDS files)
    present = int(np.bitwise_or.reduce(dq, axis=None)) if dq.size else 0
    out = np.zeros_like(dq)
    for src, dst in mapping.items():
        if dst and present & src:  # only bits that occur cost a pass over the array
            out |= np.where((dq & np.uint32(src)) != 0, np.uint32(dst), np.uint32(0))
    return out


def dq_def_table() -> list[tuple[int, int, str, str]]:
    """Rows ``(BIT, VALUE, NAME, DESCRIPTION)`` for a reference file's ``DQ_DEF`` extension."""
    return [(f.bit, f.value, f.name, f.description) for f in FLAGS]
