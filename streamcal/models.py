"""Data model: raw ramps and calibrated products in the JWST file layout.

Arrays are numpy in the DMS (science) orientation, numpy axis order:

========== =========================== ======= ===========
model      array                       dtype   unit
========== =========================== ======= ===========
RampModel  data (nints,ngroups,ny,nx)  float32 DN
RampModel  pixeldq (ny,nx)             uint32  DQ bits
RampModel  groupdq (nints,ngroups,...) uint8   DQ bits 0-7
ImageModel data/err (ny,nx)|(nints,..) float32 DN/s
ImageModel var_poisson/var_rnoise      float32 (DN/s)^2
ImageModel dq                          uint32  DQ bits
ImageModel var_flat (stage 2)          float32 bunit^2
ImageModel area (stage 2, AREA)        float32 pixel area / nominal
========== =========================== ======= ===========

``ImageModel.wcs`` (stage 2 on) is a gwcs ``WCS``: 0-based ``(x, y)`` -> ICRS ``(ra, dec)`` deg,
frames ``detector -> v2v3 -> v2v3vacorr -> world`` as jwst's imaging WCS.

File reading and writing live in :mod:`streamcal.fitsio`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.io import fits

from .boundary.keywords import KeywordReader
from .errors import BadInputError

__all__ = ["ExposureMeta", "RampModel", "ImageModel", "MosaicModel", "RampFitOutput", "product_name"]


def _observation_start(keys: KeywordReader) -> str:
    """ISO start of the exposure (DATE-BEG, else DATE-OBS + TIME-OBS); "" when unknown.
    Reference files apply to exposures taken after their USEAFTER date."""
    begin = keys.text("DATE-BEG", "")
    if begin:
        return begin
    date, time = keys.text("DATE-OBS", ""), keys.text("TIME-OBS", "00:00:00")
    return f"{date}T{time}" if date else ""


@dataclass(frozen=True)
class ExposureMeta:
    """The primary-header keywords that stage 1 needs, typed.

    Times are in seconds.  ``substrt1/2`` are 1-based starts of the subarray in full-frame
    science coordinates, ``subsize1/2`` its size along x (columns) and y (rows).
    """

    filename: str
    instrument: str
    detector: str
    exp_type: str
    nints: int
    ngroups: int
    nframes: int
    groupgap: int
    tframe: float
    tgroup: float
    readpatt: str = "ANY"
    subarray: str = "FULL"
    substrt1: int = 1
    substrt2: int = 1
    subsize1: int = 0
    subsize2: int = 0
    fastaxis: int = 1
    slowaxis: int = 2
    noutputs: int = 4
    frmdivsr: int = 1
    filter: str = "N/A"
    pupil: str = "N/A"
    tsovisit: bool = False
    gainfact: float | None = None
    zeroframe: bool = False
    date_obs: str = ""

    #: Keywords a raw exposure must carry for stage 1 to run at all.
    REQUIRED = ("INSTRUME", "DETECTOR", "EXP_TYPE", "NINTS", "NGROUPS", "NFRAMES",
                "GROUPGAP", "TFRAME", "TGROUP")

    @classmethod
    def from_header(cls, header: fits.Header, shape: tuple[int, ...] | None = None, *,
                    source: str | None = None) -> ExposureMeta:
        """Build from a primary header; ``shape`` (the SCI shape) fills SUBSIZE when absent.

        Every keyword is parsed through :class:`~streamcal.boundary.keywords.KeywordReader`:
        integers in their physical ranges, finite times, printable-ASCII strings, FITS logicals.

        Parameters
        ----------
        header : astropy.io.fits.Header
        shape : tuple of int, optional
            The data's shape; its last two axes are the frame ``(ny, nx)``.
        source : str, optional
            The file the header came from, named in errors (default: its FILENAME).

        Raises
        ------
        BadInputError
            ``check="keywords"``: every required keyword that is missing, or the first value
            that is of the wrong type or out of range.
        """
        source = source or _filename(header)
        keys = KeywordReader(header, source)
        missing = [k for k in cls.REQUIRED if not keys.present(k)]
        if missing:
            raise BadInputError(source, "keywords", f"missing required keywords: {', '.join(missing)}")
        ny, nx = (shape[-2], shape[-1]) if shape and len(shape) >= 2 else (0, 0)
        meta = cls(
            filename=keys.text("FILENAME", "unknown", upper=False),
            instrument=keys.text("INSTRUME"), detector=keys.text("DETECTOR"), exp_type=keys.text("EXP_TYPE"),
            nints=keys.integer("NINTS"), ngroups=keys.integer("NGROUPS"), nframes=keys.integer("NFRAMES"),
            groupgap=keys.integer("GROUPGAP"), tframe=keys.real("TFRAME"), tgroup=keys.real("TGROUP"),
            readpatt=keys.text("READPATT", "ANY"), subarray=keys.text("SUBARRAY", "FULL"),
            substrt1=keys.integer("SUBSTRT1", 1), substrt2=keys.integer("SUBSTRT2", 1),
            subsize1=keys.integer("SUBSIZE1", nx), subsize2=keys.integer("SUBSIZE2", ny),
            fastaxis=keys.integer("FASTAXIS", 1), slowaxis=keys.integer("SLOWAXIS", 2),
            noutputs=keys.integer("NOUTPUTS", 4 if nx >= 2048 else 1),
            frmdivsr=keys.integer("FRMDIVSR", keys.integer("NFRAMES")),
            filter=keys.text("FILTER", "N/A"), pupil=keys.text("PUPIL", "N/A"),
            tsovisit=keys.logical("TSOVISIT"), gainfact=keys.real("GAINFACT", required=False),
            zeroframe=keys.logical("ZEROFRAM"), date_obs=_observation_start(keys),
        )
        meta._check_axes(source)
        return meta

    def _check_axes(self, source: str) -> None:
        """FASTAXIS and SLOWAXIS name the two detector axes, one each, with a sign."""
        if sorted((abs(self.fastaxis), abs(self.slowaxis))) != [1, 2]:
            raise BadInputError(source, "keywords", f"FASTAXIS={self.fastaxis} SLOWAXIS={self.slowaxis}: "
                                                    "they must be +-1 and +-2, one each")

    @property
    def is_miri(self) -> bool:
        return self.instrument == "MIRI"

    @property
    def is_full_frame(self) -> bool:
        return self.subarray in ("FULL", "GENERIC") and self.substrt1 == 1 and self.substrt2 == 1

    def window(self) -> tuple[slice, slice]:
        """0-based ``(rows, cols)`` slices of this subarray inside the full frame."""
        y0, x0 = self.substrt2 - 1, self.substrt1 - 1
        return slice(y0, y0 + self.subsize2), slice(x0, x0 + self.subsize1)


@dataclass
class RampModel:
    """A raw or partly calibrated exposure: 4-D ramps plus DQ (jwst RampModel).

    Steps update ``data``, ``pixeldq`` and ``groupdq`` in place; that is the documented
    contract of every stage-1 step adapter (copies of a 4-D full-frame ramp cost 170 MB each).
    """

    meta: ExposureMeta
    header: fits.Header
    data: np.ndarray
    pixeldq: np.ndarray
    groupdq: np.ndarray
    sci_header: fits.Header = field(default_factory=fits.Header)
    zeroframe: np.ndarray | None = None
    refout: np.ndarray | None = None
    group: np.ndarray | None = None
    int_times: np.ndarray | None = None
    average_dark_current: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.data.shape  # type: ignore[return-value]


@dataclass
class ImageModel:
    """A count-rate image (``rate``: 2-D) or cube (``rateints``, guider ``cal``: 3-D).

    ``var_poisson``/``var_rnoise`` may be ``None`` (guider products have none).
    ``dq`` is 2-D for guider products, otherwise the shape of ``data``.
    """

    meta: ExposureMeta
    header: fits.Header
    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray | None = None
    var_rnoise: np.ndarray | None = None
    sci_header: fits.Header = field(default_factory=fits.Header)
    int_times: np.ndarray | None = None
    bunit: str = "DN/s"
    var_flat: np.ndarray | None = None
    area: np.ndarray | None = None
    wcs: Any = None
    #: Point-source slit-loss correction applied by pathloss (MIRI LRS FS; the PATHLOSS_PS extension).
    pathloss_point: np.ndarray | None = None


@dataclass
class MosaicModel:
    """A resampled image (``i2d``): drizzle output of one or more ``cal`` images.

    ============ ======================= ======= ==================================
    array        shape                   dtype   meaning
    ============ ======================= ======= ==================================
    data, err    (ny, nx)                float32 surface brightness (``bunit``)
    wht          (ny, nx)                float32 drizzle weight sum
    con          (nplanes, ny, nx)       int32   bit k of plane p: input 32p+k used
    var_*        (ny, nx) or None        float32 variances, ``bunit`` squared
    ============ ======================= ======= ==================================

    ``wcs`` is a gwcs ``WCS`` (0-based pixel -> ICRS degrees); ``members`` are the input file
    names in CON bit order; ``header`` is the primary header, ``sci_header`` the SCI header.
    """

    header: fits.Header
    data: np.ndarray
    err: np.ndarray
    wht: np.ndarray
    con: np.ndarray
    wcs: Any
    members: list[str] = field(default_factory=list)
    var_poisson: np.ndarray | None = None
    var_rnoise: np.ndarray | None = None
    var_flat: np.ndarray | None = None
    sci_header: fits.Header = field(default_factory=fits.Header)
    bunit: str = "MJy/sr"


@dataclass
class RampFitOutput:
    """What ramp fitting produces: the exposure ``rate`` and, when NINTS > 1 or the
    exposure is TSO, the per-integration ``rateints``."""

    rate: ImageModel
    rateints: ImageModel | None

    @property
    def meta(self) -> ExposureMeta:
        return self.rate.meta


def _filename(header: fits.Header) -> str:
    """The FILENAME keyword when it is usable text, for naming a header in errors."""
    try:
        name = header.get("FILENAME")
    except Exception:  # a mangled card; the error about it comes from the keyword reader
        return "header"
    return name.strip() if isinstance(name, str) and name.strip() else "header"


def product_name(filename: str, suffix: str) -> str:
    """JWST product name from an exposure file name: swap the last ``_<suffix>``.

    Examples
    --------
    >>> product_name("jw01019001001_02101_00001_nrca1_uncal.fits", "rate")
    'jw01019001001_02101_00001_nrca1_rate.fits'
    >>> product_name("fgs_track_guider1.fits", "cal")
    'fgs_track_guider1_cal.fits'
    """
    stem = filename[:-5] if filename.lower().endswith(".fits") else filename
    for known in ("_uncal", "_ramp", "_rate", "_rateints", "_dark", "_cal", "_trapsfilled"):
        if stem.endswith(known):
            stem = stem[: -len(known)]
            break
    return f"{stem}_{suffix}.fits"
