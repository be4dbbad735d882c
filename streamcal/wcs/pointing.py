"""Telescope pointing of an exposure: the SCI-header keywords that place V2/V3 on the sky.

Keywords (jwst_spec §4.1, jwst's ``meta.wcsinfo``): RA_REF/DEC_REF (deg, ICRS) is where the
aperture reference point V2_REF/V3_REF (arcsec, telescope V frame) points; ROLL_REF (deg) is
the position angle of the V3 axis at that point, measured from north through east; V3I_YANG
(deg) and VPARITY (+-1) relate the aperture's ideal frame to V2/V3 (the distortion reference
files already contain them; the simulator uses them to build one); VA_SCALE is the velocity
aberration scale factor (1 when absent).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from astropy.io import fits

from ..errors import StreamcalError

#: SCI-header keyword of each Pointing field.
KEYWORDS = {"ra_ref": "RA_REF", "dec_ref": "DEC_REF", "v2_ref": "V2_REF", "v3_ref": "V3_REF",
            "roll_ref": "ROLL_REF", "v3yangle": "V3I_YANG", "vparity": "VPARITY", "va_scale": "VA_SCALE"}
_REQUIRED = ("ra_ref", "dec_ref", "v2_ref", "v3_ref", "roll_ref")


class MissingPointingError(StreamcalError, KeyError):
    """A pointing keyword needed to build the WCS is absent."""


@dataclass(frozen=True)
class Pointing:
    """Pointing of one exposure (units: deg for angles on the sky, arcsec for V2/V3)."""

    ra_ref: float
    dec_ref: float
    v2_ref: float
    v3_ref: float
    roll_ref: float
    v3yangle: float = 0.0
    vparity: int = -1
    va_scale: float = 1.0

    def wcsinfo(self) -> dict:
        """The jwst ``meta.wcsinfo`` dict (what tweakwcs' JWSTWCSCorrector wants)."""
        return {"ra_ref": self.ra_ref, "dec_ref": self.dec_ref, "v2_ref": self.v2_ref,
                "v3_ref": self.v3_ref, "roll_ref": self.roll_ref, "v3yangle": self.v3yangle,
                "vparity": self.vparity, "va_scale": self.va_scale}

    def to_cards(self) -> dict:
        """SCI-header cards of this pointing."""
        return {KEYWORDS[name]: value for name, value in self.wcsinfo().items()}

    def moved(self, **changes) -> Pointing:
        return replace(self, **changes)


def _value(header: fits.Header, key: str):
    value = header.get(key)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def pointing_from_header(sci_header: fits.Header) -> Pointing:
    """Pointing from a SCI header (jwst writes the pointing keywords there).

    RA_REF, DEC_REF, V2_REF, V3_REF and ROLL_REF are required; V3I_YANG defaults to 0,
    VPARITY to -1 (the usual JWST value), VA_SCALE to 1 (no velocity aberration).

    Raises
    ------
    MissingPointingError
        When a required keyword is absent or blank.

    Examples
    --------
    >>> h = fits.Header({"RA_REF": 10.0, "DEC_REF": -5.0, "V2_REF": 86.1, "V3_REF": -493.2,
    ...                  "ROLL_REF": 30.0})
    >>> pointing_from_header(h).va_scale
    1.0
    """
    values = {}
    for name, key in KEYWORDS.items():
        value = _value(sci_header, key)
        if value is None and name in _REQUIRED:
            raise MissingPointingError(f"pointing keyword {key} missing from the SCI header")
        if value is not None:
            values[name] = int(value) if name == "vparity" else float(value)
    return Pointing(**values)
