"""Where each imaging detector sits in the telescope's V2/V3 frame (approximate, SIAF-like).

(V2_REF, V3_REF) arcsec is the V2/V3 of the full-frame aperture's reference point -- the
detector centre -- and V3I_YANG (deg) the angle of the aperture's ideal Y axis from V3.  The
FGS values are those of the real headers; the others are rounded numbers in the right places
(NIRCam short-wave detectors in 2x2 blocks, one per module, the long-wave detector of each
module at its centre), good enough for a self-consistent synthetic instrument, not for
real data: real distortion reference files carry the real geometry.
"""

from __future__ import annotations

#: (V2_REF, V3_REF, V3I_YANG) of each detector's full-frame aperture.
APERTURE: dict[str, tuple[float, float, float]] = {
    "NRCA1": (120.6, -527.5, -0.56), "NRCA2": (120.0, -459.7, -0.56), "NRCA3": (51.5, -527.3, -0.56),
    "NRCA4": (52.3, -459.6, -0.56), "NRCALONG": (86.1, -493.2, -0.56),
    "NRCB1": (-120.6, -459.6, -0.56), "NRCB2": (-120.0, -527.4, -0.56), "NRCB3": (-51.5, -459.5, -0.56),
    "NRCB4": (-52.3, -527.3, -0.56), "NRCBLONG": (-89.5, -491.7, -0.56),
    "GUIDER1": (206.407, -697.765, -1.2412), "GUIDER2": (22.835, -699.423, 0.2915),
    "NIS": (-290.1, -697.5, -0.57), "NRS1": (378.6, -428.4, 138.5), "NRS2": (378.6, -428.4, 138.5),
    "MIRIMAGE": (-453.6, -373.8, 4.45), "MIRIFUSHORT": (-502.6, -318.8, -4.0),
    "MIRIFULONG": (-502.6, -318.8, -4.0),
}
#: VPARITY of every JWST science aperture (ideal X runs against V2).
VPARITY = -1


def aperture_reference(detector_name: str) -> tuple[float, float, float]:
    """(V2_REF, V3_REF, V3I_YANG) of a detector's full-frame aperture.

    >>> aperture_reference("GUIDER1")
    (206.407, -697.765, -1.2412)
    """
    try:
        return APERTURE[detector_name.upper()]
    except KeyError:
        raise KeyError(f"no aperture for detector {detector_name!r}") from None
