"""Header keywords as typed, range-checked values.

Every keyword the calibration core reads from an exposure's primary header is parsed here,
once: integers must be integers (an integral float such as ``3.0`` is accepted, a boolean
or ``1E999`` is not) inside a physical range, floats finite and in range, strings printable
ASCII of bounded length, booleans FITS logicals.  A value that fails is a
:class:`~streamcal.errors.BadInputError` (``check="keywords"``) naming the keyword, the value
and the accepted range, so no ``int(header[...])`` deeper in the code can overflow, allocate
by an absurd count, or crash on a wrongly typed value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import BadInputError

__all__ = ["IntRange", "FloatRange", "LIMITS", "FLOAT_LIMITS", "MAX_TEXT", "KeywordReader", "is_printable_ascii"]

#: Longest string value a FITS card can hold (80 - 10 - 2 quotes), characters.
MAX_TEXT = 68


@dataclass(frozen=True)
class IntRange:
    """Inclusive bounds of an integer keyword."""

    lo: int
    hi: int


@dataclass(frozen=True)
class FloatRange:
    """Inclusive bounds of a float keyword (finite values only)."""

    lo: float
    hi: float


#: Integer keywords and their accepted ranges.  The bounds are generous sanity limits, far
#: beyond any JWST readout pattern (NIRCam DEEP8 has NFRAMES 8 and GROUPGAP 12; NGROUPS and
#: NINTS reach the thousands only for MIRI and time series), yet small enough that no product
#: of them overflows or sizes an allocation by a hostile count.
LIMITS: dict[str, IntRange] = {
    "NINTS": IntRange(1, 100_000),
    "NGROUPS": IntRange(1, 10_000),
    "NFRAMES": IntRange(1, 1024),
    "GROUPGAP": IntRange(0, 1024),
    "FRMDIVSR": IntRange(1, 1024),
    "NOUTPUTS": IntRange(1, 5),
    # Windows only need to be sane integers here: files are held to their detector's frame
    # (at most 2048 pixels plus reference pixels) by boundary.exposure.check_exposure_window,
    # while models built in memory (tests, simulations) may use other sizes.
    "SUBSTRT1": IntRange(1, 1 << 20),
    "SUBSTRT2": IntRange(1, 1 << 20),
    "SUBSIZE1": IntRange(1, 1 << 20),
    "SUBSIZE2": IntRange(1, 1 << 20),
    "FASTAXIS": IntRange(-2, 2),
    "SLOWAXIS": IntRange(-2, 2),
    "INTSTART": IntRange(1, 100_000),
    "INTEND": IntRange(1, 100_000),
}

#: Float keywords and their accepted ranges: frame and group times in seconds (a MIRI SLOW
#: frame is ~24 s, a NIRCam full frame 10.7 s; 0 is allowed for TGROUP of header-only test
#: files), GAINFACT dimensionless.
FLOAT_LIMITS: dict[str, FloatRange] = {
    "TFRAME": FloatRange(0.0, 1e4),
    "TGROUP": FloatRange(0.0, 1e6),
    "GAINFACT": FloatRange(1e-6, 1e6),
}


def is_printable_ascii(text: str) -> bool:
    """Whether every character of ``text`` is printable ASCII (space to tilde)."""
    return all(" " <= c <= "~" for c in text)


class KeywordReader:
    """Typed access to one header, every failure a :class:`BadInputError` naming ``source``.

    Parameters
    ----------
    header : mapping
        A FITS header (or a dict of keyword values).
    source : str
        The file the header came from, for the error messages.
    """

    def __init__(self, header: Mapping[str, Any], source: str):
        self.header = header
        self.source = source

    def _raw(self, key: str) -> Any:
        try:
            value = self.header.get(key)
        except Exception as exc:  # astropy parses a card's value on access: a mangled card raises here
            raise self._error(key, f"unparsable card ({type(exc).__name__})") from None
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def _error(self, key: str, problem: str) -> BadInputError:
        return BadInputError(self.source, "keywords", f"{key}: {problem}")

    def present(self, key: str) -> bool:
        """Whether ``key`` has a non-blank value."""
        return self._raw(key) is not None

    def integer(self, key: str, default: int | None = None) -> int:
        """An integer keyword inside its :data:`LIMITS` range (``default`` when absent).

        Raises
        ------
        BadInputError
            Absent without a default, not an integer (booleans, strings, non-integral or
            non-finite floats), or out of range.
        """
        value = self._raw(key)
        if value is None:
            if default is None:
                raise self._error(key, "missing")
            return default
        number = _as_int(value)
        if number is None:
            raise self._error(key, f"{_show(value)} is not an integer")
        bounds = LIMITS.get(key)
        if bounds is not None and not bounds.lo <= number <= bounds.hi:
            raise self._error(key, f"{number} is outside {bounds.lo}..{bounds.hi}")
        return number

    def real(self, key: str, default: float | None = None, *, required: bool = True) -> float | None:
        """A finite float keyword inside its :data:`FLOAT_LIMITS` range; when absent ``default``,
        or an error if ``required`` and no default is given."""
        value = self._raw(key)
        if value is None:
            if default is None and required:
                raise self._error(key, "missing")
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(key, f"{_show(value)} is not a number")
        try:
            number = float(value)
        except OverflowError:  # a Python int beyond float range (astropy parses 1E999 as inf, 10**400 as int)
            number = math.inf
        bounds = FLOAT_LIMITS.get(key)
        if not math.isfinite(number) or (bounds is not None and not bounds.lo <= number <= bounds.hi):
            limits = f" outside {bounds.lo:g}..{bounds.hi:g}" if bounds and math.isfinite(number) else " not finite"
            raise self._error(key, f"{_show(value)} is{limits}")
        return number

    def text(self, key: str, default: str | None = None, *, upper: bool = True) -> str:
        """A string keyword, stripped (and upper-cased unless ``upper`` is false): printable
        ASCII, at most :data:`MAX_TEXT` characters.  Numbers are accepted and turned into text
        (``FILTER = 150``)."""
        value = self._raw(key)
        if value is None:
            if default is None:
                raise self._error(key, "missing")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self._error(key, f"{_show(value)} is not text")
        text = str(value).strip()
        if len(text) > MAX_TEXT or not is_printable_ascii(text):
            raise self._error(key, f"{_show(value)} is not printable ASCII of at most {MAX_TEXT} characters")
        return text.upper() if upper else text

    def logical(self, key: str, default: bool = False) -> bool:
        """A FITS logical (``T``/``F``); absent means ``default``."""
        value = self._raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._error(key, f"{_show(value)} is not a logical (T or F)")
        return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _show(value: Any) -> str:
    """A value for an error message: repr, bounded so a hostile card cannot flood a log."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
