"""tweakreg: align the WCSs of the images of an association to each other (and to a catalog).

jwst_spec §5.1.  For a list of ``cal`` images (ImageModel with a gwcs, SCI in MJy/sr or DN/s):

1. Sources per image (:func:`streamcal.steps._sources.detect`): IRAFStarFinder by default
   (``starfinder`` 'iraf' | 'dao' | 'segmentation'), threshold ``snr_threshold`` x background rms,
   sharpness/roundness limits, the ``brightest`` 200 kept, sources outside the WCS bounding box
   dropped; pixels flagged DO_NOT_USE or NON_SCIENCE are not searched.
2. Images of one exposure (the detectors of one exposure: same program, observation, visit,
   visit group, sequence, activity and exposure number) form a group that receives one
   correction (:func:`group_id`).
3. Relative alignment with tweakwcs ``align_wcs``: matching in the tangent plane (XYXYMatch:
   ``searchrad``, 2-D histogram first guess, ``separation``, ``tolerance``; arcsec), fit
   ``fitgeometry`` ('rshift': shift + rotation) with ``nclip`` sigma-clipping iterations at
   ``sigma`` x rms; fewer than ``minobj`` matches leave that image unaligned.  A correction
   larger than 2 (searchrad + tolerance) arcsec is taken for a mismatch and discarded (jwst).
4. Optional absolute alignment of all images as one group to ``abs_refcat`` (an ECSV/CSV file
   with RA/DEC columns, deg, or a jwst ``_cat.ecsv`` with sky_centroid; the pipeline reads it and
   passes the table).  GAIA catalogs need the network and are refused with a clear error.
5. Each aligned image gets tweakwcs' JWSTWCSCorrector correction as a ``v2v3corr`` frame in its
   gwcs (``v2v3vacorr -> v2v3corr``, needs V2_REF/V3_REF/ROLL_REF of the SCI header), a new SIP
   approximation and S_REGION in its SCI header.

With ``use_custom_catalogs`` an image whose file name is in the ``catalogs`` argument uses that
catalog instead of step 1 (jwst: the ASN member's ``tweakreg_catalog``; the stream makes each
exposure's catalog when its ``cal`` is made, so only the last member's is left at firing time).

Input models are not modified: aligned copies (arrays shared) are returned.  Fewer than two
groups without an absolute catalog, or no image aligned, gives a SKIPPED report saying why.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from tweakwcs.correctors import JWSTWCSCorrector
from tweakwcs.imalign import align_wcs
from tweakwcs.matchutils import XYXYMatch

from .. import dqflags
from ..models import ImageModel
from ..wcs import pointing_from_header
from ..wcs.exposure import replace_wcs_cards, s_region
from ._sources import FinderSettings, detect, finder_settings
from .assign_wcs import SipSettings
from .resample import exposure_group_id
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "Params", "GAIA_CATALOGS", "group_id", "image_catalog",
           "custom_catalog", "reference_catalog", "tweakreg", "run"]

NAME = "tweakreg"
STATUS_KEYWORD = "S_TWKREG"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

#: Catalog names jwst fetches from the Gaia archive (not reachable offline).
GAIA_CATALOGS = ("GAIAREFCAT", "GAIADR3", "GAIADR2", "GAIADR1")
_ABS_GROUP = "absolute"
_UNUSABLE = dqflags.DQ["DO_NOT_USE"] | dqflags.DQ["NON_SCIENCE"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Params(SipSettings, FinderSettings, StepParams):
    """jwst TweakRegStep parameters (distances in arcsec, kernel in pixels): the source finder's
    (:class:`~streamcal.steps._sources.FinderSettings`), matching and fitting, absolute
    alignment, and the SIP approximation's (:class:`~streamcal.steps.assign_wcs.SipSettings`)."""

    enforce_user_order: bool = False
    use_custom_catalogs: bool = False
    expand_refcat: bool = False
    minobj: int = 15
    fitgeometry: str = "rshift"
    nclip: int = 3
    sigma: float = 3.0
    searchrad: float = 2.0
    use2dhist: bool = True
    separation: float = 1.0
    tolerance: float = 0.7
    xoffset: float = 0.0
    yoffset: float = 0.0
    abs_refcat: str = ""
    abs_minobj: int = 15
    abs_fitgeometry: str = "rshift"
    abs_nclip: int = 3
    abs_sigma: float = 3.0
    abs_searchrad: float = 6.0
    abs_use2dhist: bool = True
    abs_separation: float = 1.0
    abs_tolerance: float = 0.7

    def __post_init__(self):
        geometries = ("shift", "rshift", "rscale", "general")
        for name in ("fitgeometry", "abs_fitgeometry"):
            if getattr(self, name) not in geometries:
                raise ValueError(f"tweakreg.{name} must be one of {geometries}, got {getattr(self, name)!r}")
        # tweakwcs/jwst: matches closer than sqrt(2) x tolerance would be confused
        for sep, tol, prefix in ((self.separation, self.tolerance, ""),
                                 (self.abs_separation, self.abs_tolerance, "abs_")):
            if sep <= math.sqrt(2) * tol:
                raise ValueError(f"tweakreg.{prefix}separation ({sep}) must exceed sqrt(2) x "
                                 f"{prefix}tolerance ({tol}) to avoid source confusion")

    def finder(self) -> FinderSettings:
        return finder_settings(self)


# -------------------------------------------------------------------------------- inputs

def group_id(model: ImageModel) -> str:
    """The exposure an image belongs to (jwst ``meta.group_id``): ``jw<program><observation>
    <visit>_<visitgrp><seq_id><act_id>_<exposure>`` from the primary header, else the file
    name without its detector and suffix."""
    stem = Path(str(model.meta.filename)).name.split(".")[0]
    parts = stem.split("_")
    return exposure_group_id(model.header, "_".join(parts[:3]) if len(parts) >= 4 else stem)


def image_catalog(model: ImageModel, settings: FinderSettings) -> Table:
    """Sources of one image for alignment: columns ``id``, ``x``, ``y`` (0-based pixels),
    ``flux``; only those inside the WCS bounding box."""
    data = np.asarray(model.data, float)
    if data.ndim != 2:
        raise ValueError(f"tweakreg needs 2-D images, {model.meta.filename} has shape {data.shape}")
    cover = (np.asarray(model.dq) & _UNUSABLE) != 0
    found = detect(data, settings, cover, error=np.asarray(model.err, float))
    table = Table({"id": np.asarray(found["id"], int), "x": np.asarray(found["xcentroid"], float),
                   "y": np.asarray(found["ycentroid"], float), "flux": np.asarray(found["flux"], float)})
    return _inside_wcs(model, table)


def custom_catalog(model: ImageModel, table: Table) -> Table:
    """A user's (or an earlier run's) catalog of one image in the form alignment uses.

    Parameters
    ----------
    model : ImageModel
        The image the catalog belongs to.
    table : astropy Table
        ``x``, ``y`` or ``xcentroid``, ``ycentroid`` (0-based pixels); ``flux`` optional.

    Raises
    ------
    ValueError
        The table has no pixel-position columns.
    """
    names = {c.lower(): c for c in table.colnames}
    xy = next(((names[x], names[y]) for x, y in (("x", "y"), ("xcentroid", "ycentroid")) if x in names and y in names),
              None)
    if xy is None:
        raise ValueError(f"tweakreg: the catalog of {model.meta.filename} has no x/y or xcentroid/ycentroid columns")
    flux = np.asarray(table[names["flux"]], float) if "flux" in names else np.ones(len(table))
    out = Table({"id": np.arange(1, len(table) + 1), "x": np.asarray(table[xy[0]], float),
                 "y": np.asarray(table[xy[1]], float), "flux": flux})
    return _inside_wcs(model, out)


def _inside_wcs(model: ImageModel, table: Table) -> Table:
    """Sources inside the WCS bounding box, named after the image."""
    box = getattr(model.wcs, "bounding_box", None)
    if box is not None and len(table):
        (x0, x1), (y0, y1) = [(float(a), float(b)) for a, b in box]
        table = table[(table["x"] > x0) & (table["x"] < x1) & (table["y"] > y0) & (table["y"] < y1)]
    table.meta["name"] = Path(str(model.meta.filename)).name
    return table


def reference_catalog(table: Table, name: str) -> Table:
    """An absolute reference catalog in the form alignment uses: ``RA``, ``DEC`` (deg) from
    columns RA/DEC (any case) or a ``sky_centroid`` (a source_catalog ``_cat.ecsv``); ``name``
    (the catalog's file name) goes into the aligned WCS names.  Reading the file is the
    pipeline's job (:func:`streamcal.pipelines.image3.read_refcat`).

    Raises
    ------
    ValueError
        No usable columns.
    """
    return _radec_table(table, name)


def _radec_table(table: Table, name: str) -> Table:
    upper = {c.upper(): c for c in table.colnames}
    if "RA" in upper and "DEC" in upper:
        ra, dec = table[upper["RA"]], table[upper["DEC"]]
    elif "SKY_CENTROID" in upper:
        sky = table[upper["SKY_CENTROID"]]
        ra, dec = sky.ra.deg, sky.dec.deg
    else:
        raise ValueError(f"reference catalog {name}: needs RA/DEC or sky_centroid columns, has {table.colnames}")
    out = Table({"RA": np.asarray(getattr(ra, "value", ra), float),
                 "DEC": np.asarray(getattr(dec, "value", dec), float)})
    out.meta["name"] = name
    return out[np.isfinite(out["RA"]) & np.isfinite(out["DEC"])]


# --------------------------------------------------------------------------------- align

def _corrector(model: ImageModel, catalog: Table, group: str) -> JWSTWCSCorrector:
    if model.wcs is None:
        raise ValueError(f"tweakreg: {model.meta.filename} has no WCS (assign_wcs has not run)")
    info = pointing_from_header(model.sci_header).wcsinfo()
    return JWSTWCSCorrector(model.wcs, {k: info[k] for k in ("v2_ref", "v3_ref", "roll_ref")},
                            meta={"catalog": catalog, "name": catalog.meta["name"], "group_id": group})


def _matcher(params: Params, absolute: bool) -> XYXYMatch:
    p = "abs_" if absolute else ""
    return XYXYMatch(searchrad=getattr(params, p + "searchrad"), separation=getattr(params, p + "separation"),
                     use2dhist=getattr(params, p + "use2dhist"), tolerance=getattr(params, p + "tolerance"),
                     xoffset=0.0 if absolute else params.xoffset, yoffset=0.0 if absolute else params.yoffset)


def _align(correctors: list, refcat: Table | None, params: Params) -> str | None:
    """Run tweakwcs; return why nothing could be aligned, or None."""
    absolute = refcat is not None
    p = "abs_" if absolute else ""
    try:
        align_wcs(correctors, refcat=refcat, enforce_user_order=True if absolute else params.enforce_user_order,
                  expand_refcat=False if absolute else params.expand_refcat,
                  minobj=getattr(params, p + "minobj"), match=_matcher(params, absolute),
                  fitgeom=getattr(params, p + "fitgeometry"), nclip=getattr(params, p + "nclip"),
                  sigma=(getattr(params, p + "sigma"), "rmse"))
    except ValueError as exc:  # tweakwcs: too few non-empty catalogs (NotEnoughCatalogs)
        return f"{exc}"
    except RuntimeError as exc:
        if str(exc).startswith("Number of output coordinates exceeded allocation"):
            return ("several sources matched one reference source; adjust tolerance/separation")
        raise
    return None


def _too_large(corrector, params: Params, absolute: bool) -> bool:
    """jwst's sanity check: footprint corners moved by more than 2 (searchrad + tolerance)
    arcsec (or 2 (|offset| + tolerance) without the 2-D histogram) means a mismatch."""
    p = "abs_" if absolute else ""
    tol = getattr(params, p + "tolerance")
    if getattr(params, p + "use2dhist"):
        limit = 2 * (getattr(params, p + "searchrad") + tol)
    else:
        limit = 2 * (0.0 if absolute else max(abs(params.xoffset), abs(params.yoffset)) + tol)
    new = SkyCoord(*corrector.wcs.footprint(axis_type="spatial").T, unit="deg")
    old = SkyCoord(*corrector.original_wcs.footprint(axis_type="spatial").T, unit="deg")
    return bool(np.any(old.separation(new) >= limit * u.arcsec))


def _status(corrector) -> str:
    return corrector.meta.get("fit_info", {}).get("status", "not fitted")


# -------------------------------------------------------------------------------- output

def _aligned_model(model: ImageModel, corrector, params: Params, refname: str | None) -> ImageModel:
    wcs = corrector.wcs
    if refname:
        wcs.name = f"FIT-LVL3-{refname}"
    header = model.sci_header.copy()
    shape = model.data.shape[-2:]
    if params.sip_approx:
        try:
            replace_wcs_cards(header, params.sip_cards(wcs, shape))
        except (ValueError, RuntimeError) as exc:  # jwst: warn, keep the gwcs correction
            log.warning("tweakreg: SIP approximation of %s failed: %s", model.meta.filename, exc)
    header["S_REGION"] = s_region(wcs, shape)
    return dataclasses.replace(model, wcs=wcs, sci_header=header)


def _fit_note(corrector) -> str:
    info = corrector.meta.get("fit_info", {})
    name = corrector.meta.get("name", "?")
    if info.get("status") != "SUCCESS":
        return f"{name}: {info.get('status', 'not fitted')}"
    shift = info.get("shift", (math.nan, math.nan))
    rot = float(info.get("proper_rot", np.mean(info.get("rot", 0.0))))
    return (f"{name}: shift ({shift[0]:.4f}, {shift[1]:.4f})\" rot {rot:.5f} deg, "
            f"rms {info.get('rmse', math.nan):.4f}\", {info.get('nmatches', 0)} matches")


def tweakreg(models: Sequence[ImageModel], params: Params = Params(), refcat: Table | None = None,
             catalogs: Mapping[str, Table] | None = None) -> tuple[list[ImageModel], StepReport]:
    """Align a list of images.

    Parameters
    ----------
    models : sequence of ImageModel
        2-D images with a gwcs (frames detector -> v2v3 -> v2v3vacorr -> world) and the
        pointing keywords (V2_REF, V3_REF, ROLL_REF ...) in ``sci_header``.
    params : Params
    refcat : astropy Table, optional
        Absolute reference catalog (RA, DEC deg; :func:`reference_catalog`), required when
        ``params.abs_refcat`` names one.
    catalogs : mapping of str to Table, optional
        Source catalogs by image file name (``meta.filename``), used with
        ``params.use_custom_catalogs`` instead of detecting (see :func:`custom_catalog`).

    Returns
    -------
    models : list of ImageModel
        Aligned copies (new ``wcs`` and ``sci_header``) of the images that were aligned; the
        others unchanged.
    report : StepReport
        COMPLETE with one line per image (shift, rotation, rms, matches), or SKIPPED with why.
    """
    models = list(models)
    if not models:
        raise ValueError("tweakreg needs at least one image")
    if params.skip:
        return models, skipped("skipped by parameter")
    if refcat is None and params.abs_refcat.strip():
        raise ValueError(f"tweakreg abs_refcat={params.abs_refcat!r}: pass the catalog as refcat "
                         "(the pipeline reads the file: streamcal.pipelines.image3.read_refcat)")
    groups = [group_id(m) for m in models]
    if refcat is not None:  # jwst: no duplicate sources in the catalog matched to the reference
        params = dataclasses.replace(params, expand_refcat=True)
    if len(set(groups)) < 2 and refcat is None:
        return models, skipped("at least two exposures are required for image alignment")
    correctors = [_corrector(m, _catalog_of(m, params, catalogs), g) for m, g in zip(models, groups)]
    notes: list[str] = []
    if len(set(groups)) > 1:
        why = _align(correctors, None, params)
        if why is None and any(_too_large(c, params, False) for c in correctors):
            why = "a correction exceeded 2 (searchrad + tolerance): taken for a mismatch"
        if why is not None:  # start again from the original WCSs
            notes.append(f"relative alignment not applied: {why}")
            correctors = [_corrector(m, c.meta["catalog"], g) for m, c, g in zip(models, correctors, groups)]
    if refcat is not None:
        return _absolute(models, correctors, refcat, params, notes)
    return _finish(models, correctors, params, notes, None)


def _catalog_of(model: ImageModel, params: Params, catalogs: Mapping[str, Table] | None) -> Table:
    given = (catalogs or {}).get(Path(str(model.meta.filename)).name) if params.use_custom_catalogs else None
    return image_catalog(model, params.finder()) if given is None else custom_catalog(model, given)


def _absolute(models, correctors, refcat: Table, params: Params, notes: list[str]):
    # jwst: a failed absolute alignment leaves every image as it came (relative fits included)
    if len(refcat) < params.abs_minobj:
        return models, skipped(f"absolute alignment failed: {len(refcat)} reference sources "
                               f"< abs_minobj {params.abs_minobj}")
    for c in correctors:
        c.meta["group_id"] = _ABS_GROUP
        c.meta.pop("fit_info", None)
    why = _align(correctors, refcat, params)
    if why is not None:
        return models, skipped(f"absolute alignment failed: {why}; " + "; ".join(notes))
    return _finish(models, correctors, params, notes, refcat.meta.get("name", "USER"))


def _finish(models, correctors, params: Params, notes: list[str], refname: str | None):
    out, aligned = [], 0
    for model, corrector in zip(models, correctors):
        if _status(corrector) == "SUCCESS":
            out.append(_aligned_model(model, corrector, params, refname))
            aligned += 1
        else:
            out.append(model)
        notes.append(_fit_note(corrector))
    if aligned == 0:
        return models, skipped("no image could be aligned: " + "; ".join(notes))
    return out, StepReport(status="COMPLETE", note="; ".join(notes))


def run(models: Sequence[ImageModel], refs: Mapping, params: Params, catalogs: Mapping[str, Table] | None = None,
        refcat: Table | None = None) -> tuple[list[ImageModel], StepReport]:
    """Adapter with the step signature (tweakreg uses no reference files)."""
    return tweakreg(models, params, refcat=refcat, catalogs=catalogs)
