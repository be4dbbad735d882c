"""Extraction parameters from a jwst EXTRACT1D reference (JSON) and the step's own settings.

An EXTRACT1D JSON file holds ``apertures``: dicts with ``id`` (a slit name, an EXP_TYPE or
``"ANY"``), optional ``region_type`` (only ``"target"`` apertures are used), ``spectral_order``,
``xstart``/``xstop``/``ystart``/``ystop`` (0-based, inclusive pixel limits), ``extract_width``,
``src_coeff``/``bkg_coeff`` (lists of polynomial coefficient lists, alternately lower and upper
limits of regions), ``independent_var`` (``"pixel"`` or ``"wavelength"``), ``bkg_fit``
(``"poly"``/``"mean"``/``"median"``), ``bkg_order``, ``smoothing_length``,
``use_source_posn``.  :func:`aperture_params` resolves one aperture and the step overrides into
an :class:`ExtractParams` with jwst 3.0's precedence and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

__all__ = ["ExtractParams", "aperture_params", "SRCPOS_EXPTYPES", "WFSS_EXPTYPES", "HORIZONTAL", "VERTICAL"]

HORIZONTAL, VERTICAL = 1, 2
#: EXP_TYPEs whose point sources get ``use_source_posn`` on by default (jwst 3.0).
SRCPOS_EXPTYPES = frozenset({"MIR_LRS-FIXEDSLIT", "NRS_FIXEDSLIT", "NRS_MSASPEC", "NRS_BRIGHTOBJ"})
WFSS_EXPTYPES = frozenset({"NIS_WFSS", "NRC_WFSS", "MIR_WFSS", "NRC_GRISM"})
_ANY = "ANY"


@dataclass(frozen=True)
class ExtractParams:
    """One box aperture, resolved.

    Attributes
    ----------
    dispaxis : int
        1: dispersion along x (rows are cross-dispersion), 2: along y.
    xstart, xstop, ystart, ystop : float
        0-based inclusive pixel limits (fractional allowed: partial pixels are weighted).
    extract_width : float or None
        Cross-dispersion width (pixels), centred on the start/stop centre or on ``trace``.
    src_coeff, bkg_coeff : tuple of tuple of float, or None
        Polynomial limits of source/background regions (lower, upper, lower, upper ...),
        in pixel-centre convention, as functions of ``independent_var``.
    subtract_background : bool
    bkg_fit : {"poly", "median"} or None
    bkg_order : int
    smoothing_length : int
        Odd box length (pixels) of the background smoothing along dispersion; 0 = none.
    use_source_posn : bool
        Shift the aperture to the source position given by the caller.
    position_offset : float
        Extra cross-dispersion shift (pixels).
    spectral_order : int
    """

    dispaxis: int
    xstart: float
    xstop: float
    ystart: float
    ystop: float
    spectral_order: int = 1
    extract_width: float | None = None
    src_coeff: tuple[tuple[float, ...], ...] | None = None
    bkg_coeff: tuple[tuple[float, ...], ...] | None = None
    independent_var: str = "pixel"
    subtract_background: bool = False
    bkg_fit: str | None = None
    bkg_order: int = 0
    smoothing_length: int = 0
    use_source_posn: bool = False
    position_offset: float = 0.0

    def __post_init__(self):
        if self.dispaxis not in (HORIZONTAL, VERTICAL):
            raise ValueError(f"dispaxis must be 1 or 2, got {self.dispaxis}")
        for name in ("src_coeff", "bkg_coeff"):
            coeff = getattr(self, name)
            if coeff is not None and len(coeff) % 2:
                raise ValueError(f"{name} must hold pairs of lower and upper limit polynomials")
        if self.subtract_background and self.bkg_fit not in ("poly", "median"):
            raise ValueError(f"bkg_fit must be 'poly' or 'median', got {self.bkg_fit!r}")

    def shifted(self, offset: float) -> "ExtractParams":
        """The aperture moved by ``offset`` pixels across the dispersion (start/stop limits and
        the constant terms of the polynomial limits), as jwst does for a source offset."""
        def shift(coeff):
            return None if coeff is None else tuple((c[0] + offset, *c[1:]) for c in coeff)
        if self.dispaxis == HORIZONTAL:
            return replace(self, ystart=self.ystart + offset, ystop=self.ystop + offset,
                           src_coeff=shift(self.src_coeff), bkg_coeff=shift(self.bkg_coeff))
        return replace(self, xstart=self.xstart + offset, xstop=self.xstop + offset,
                       src_coeff=shift(self.src_coeff), bkg_coeff=shift(self.bkg_coeff))


def _smoothing(value) -> int:
    """jwst's rules: rounded to an integer; below 3 -> 0; even -> one less."""
    length = int(round(float(value)))
    if length != 0 and length < 3:
        return 0
    return length - 1 if length and length % 2 == 0 else length


def _coeff(value) -> tuple[tuple[float, ...], ...] | None:
    return None if value is None else tuple(tuple(float(c) for c in row) for row in value)


def _find(apertures: Sequence[Mapping], slit_name: str, spectral_order: int) -> Mapping:
    partial = False
    for aper in apertures:
        ident = aper.get("id")
        if ident is None or ident == "dummy" or not (ident in (slit_name, _ANY) or slit_name == _ANY):
            continue
        if aper.get("region_type", "target") != "target":
            continue
        partial = True
        order = aper.get("spectral_order", spectral_order)
        if order == spectral_order or order == _ANY:
            return aper
    what = f"spectral order {spectral_order}" if partial else f"id {slit_name!r}"
    raise LookupError(f"EXTRACT1D reference has no target aperture for {what}")


def aperture_params(ref: Mapping | None, *, slit_name: str, spectral_order: int, shape: tuple[int, ...],
                    exp_type: str, dispaxis: int, source_type: str | None = None,
                    smoothing_length: float | None = None, bkg_fit: str | None = None,
                    bkg_order: int | None = None, subtract_background: bool | None = None,
                    use_source_posn: bool | None = None, position_offset: float = 0.0) -> ExtractParams:
    """The aperture of ``ref`` (the parsed EXTRACT1D JSON) for a slit and order, with the step
    overrides applied as jwst 3.0 does.

    Parameters
    ----------
    ref : mapping or None
        ``{"apertures": [...], ...}``; None: the whole array, no background.
    slit_name : str
        The slit's name, or the EXP_TYPE for single-slit data (MIRI LRS).
    spectral_order : int
    shape : tuple of int
        Data shape (the last two axes are used for the default limits).
    exp_type : str
    dispaxis : int
        DISPAXIS of the data (1 or 2).
    source_type : str, optional
        POINT/EXTENDED; non-point sources and WFSS never use the source position unless asked.
    smoothing_length, bkg_fit, bkg_order, subtract_background, use_source_posn, position_offset
        The step parameters (None: take the reference's value). ``bkg_fit="mean"`` means a
        0-order polynomial.

    Raises
    ------
    LookupError
        No target aperture matches the slit name (or the order).
    """
    ny, nx = shape[-2:]
    if (source_type != "POINT" or exp_type in WFSS_EXPTYPES) and use_source_posn is None:
        use_source_posn = False
    if ref is None:
        return ExtractParams(dispaxis=dispaxis, xstart=0, xstop=nx - 1, ystart=0, ystop=ny - 1,
                             spectral_order=spectral_order, use_source_posn=False)
    aper = _find(ref.get("apertures", ()), slit_name, spectral_order)
    bkg_coeff = _coeff(aper.get("bkg_coeff"))
    if bkg_coeff is not None and subtract_background is None:
        subtract_background = True
    fit = None
    if subtract_background:
        fit = bkg_fit if bkg_fit is not None else aper.get("bkg_fit", "poly")
        if fit == "mean":
            fit, bkg_order = "poly", 0
    order = aper.get("bkg_order", 0) if bkg_order is None else bkg_order
    if use_source_posn is None:
        use_source_posn = aper.get("use_source_posn")
        if use_source_posn is None:
            use_source_posn = exp_type in SRCPOS_EXPTYPES
    return ExtractParams(
        dispaxis=dispaxis, xstart=float(aper.get("xstart", 0)), xstop=float(aper.get("xstop", nx - 1)),
        ystart=float(aper.get("ystart", 0)), ystop=float(aper.get("ystop", ny - 1)),
        spectral_order=spectral_order, extract_width=aper.get("extract_width"),
        src_coeff=_coeff(aper.get("src_coeff")), bkg_coeff=bkg_coeff,
        independent_var=str(aper.get("independent_var", "pixel")).lower(),
        subtract_background=bool(subtract_background), bkg_fit=fit, bkg_order=int(order),
        smoothing_length=_smoothing(aper.get("smoothing_length", 0) if smoothing_length is None else smoothing_length),
        use_source_posn=bool(use_source_posn), position_offset=float(position_offset))
