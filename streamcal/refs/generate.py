"""Write synthetic reference files in the JWST reference-file formats, lazily and atomically.

One file per (detector, reference type), full frame -- except darks and MIRI resets, which jwst
keeps per subarray and which are therefore made per (detector, window, frame time).  A file is
made the first time something asks for it, under a temporary name renamed into place, so two
processes generating the same file at once both end with the same complete file.

File names carry the synthetic version: ``streamcal_nircam_nrca1_gain_synth3.fits``,
``streamcal_nircam_nrca1_dark_sub400p_synth3.fits``.  DATAMODL names the stdatamodels class jwst
3.0's step opens the file as (``DarkMIRIModel`` for a MIRI dark, ``NrcImgPhotomModel`` for a
NIRCam PHOTOM ...), so the files serve jwst's own pipelines unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from astropy.io import fits

from .. import dqflags
from ..detectors import Detector, get_subarray
from ..fitsio import atomic_write
from ..models import ExposureMeta
from . import synthetic as syn
from . import synth_catalog, synth_stage2
from . import synth_wcs
from .asdf_io import write_asdf_reffile
from .io import dq_def_hdu, reffile_hdulist

#: Reference types of the synthetic set, per instrument.
_COMMON = frozenset({"mask", "saturation", "linearity", "dark", "gain", "readnoise", "ipc"})
SYNTHETIC_TYPES: dict[str, frozenset[str]] = {
    "NIRCAM": _COMMON | {"superbias"},
    "NIRISS": _COMMON | {"superbias"},
    "NIRSPEC": _COMMON | {"superbias"},
    "FGS": _COMMON | {"superbias", "flat"},
    "MIRI": _COMMON | {"rscd", "reset"},
}
#: Types made per exposure window (never cut from full frame).
PER_WINDOW_TYPES = frozenset({"dark", "reset"})
#: Number of dark frames (NIR) and (integrations, groups) of MIRI darks and resets: small on
#: purpose -- the dark step extrapolates linearly past the last frame.
NIR_DARK_FRAMES = 6
MIRI_DARK_SHAPE = (2, 10)

_DATAMODEL = {"mask": "MaskModel", "saturation": "SaturationModel", "superbias": "SuperBiasModel",
              "linearity": "LinearityModel", "dark": "DarkModel", "gain": "GainModel",
              "readnoise": "ReadnoiseModel", "ipc": "IPCModel", "flat": "FlatModel",
              "rscd": "RSCDModel", "reset": "ResetModel"}


#: Modules of mode-specific synthetic references (spectroscopy, coronagraphy), asked in this
#: order before the imaging builders.  Each module defines
#:
#: - ``claims(reftype, detector, meta) -> bool``: it makes this type for this exposure (its
#:   EXP_TYPE, filter ...; ``meta`` may be None: then only types that do not depend on it);
#: - ``file_tag(reftype, detector, meta) -> str``: the file-name tag (distinct per mode);
#: - ``build(reftype, detector, meta, name)``: a :class:`~astropy.io.fits.HDUList` (written as
#:   FITS) or a dict (an ASDF tree, written as ``.asdf``) whose FILENAME/filename is ``name``;
#: - ``is_asdf(reftype, detector, meta) -> bool``: which of the two it builds;
#: - optionally ``is_json(reftype, detector, meta) -> bool``: ``build`` returns the text of a
#:   JSON file (jwst's EXTRACT1D), written as ``.json``.
MODE_FAMILIES: tuple[str, ...] = ("synth_lrs", "synth_grism", "synth_extract1d", "synth_coron")


def _family(reftype: str, detector: Detector, meta: ExposureMeta | None):
    """The mode family module that makes ``reftype`` for this exposure, or None."""
    import importlib

    for name in MODE_FAMILIES:
        module = importlib.import_module(f"{__package__}.{name}")
        if module.claims(reftype, detector, meta):
            return module
    return None


def supported(reftype: str, detector: Detector, meta: ExposureMeta | None = None) -> bool:
    """Whether the synthetic set has reference type ``reftype`` for this detector -- and, for
    the types limited to some EXP_TYPEs (NIRSpec's FLAT: imaging only; the spectroscopic and
    coronagraphic families of :data:`MODE_FAMILIES`), for the exposure ``meta`` (without it
    such a type counts as absent)."""
    if _family(reftype, detector, meta) is not None:
        return True
    if reftype in ("distortion", "filteroffset"):
        return synth_wcs.supported(reftype, detector)
    return (reftype in SYNTHETIC_TYPES.get(detector.instrument, frozenset())
            and synth_stage2.applies_to(reftype, detector, meta))


def window_tag(detector: Detector, meta: ExposureMeta) -> str:
    """Short name of an exposure's readout window for per-window files: the subarray name,
    plus position/size when they are not the named subarray's, plus the frame time when it is
    not the default one (NIRCam grism one/four outputs, MIRI SLOW, other users' headers)."""
    name = meta.subarray.lower().replace("/", "-") or "generic"
    try:
        default = get_subarray(detector, meta.subarray)
    except (KeyError, ValueError):
        default = None
    tag = name
    window = (meta.substrt1, meta.substrt2, meta.subsize1, meta.subsize2)
    if default is None or window != (default.substrt1, default.substrt2, default.subsize1, default.subsize2):
        tag += f"_x{meta.substrt1}y{meta.substrt2}_{meta.subsize1}x{meta.subsize2}"
    if default is None or abs(default.tframe - meta.tframe) > 1e-6 * max(meta.tframe, 1e-9):
        tag += f"_t{meta.tframe:.6g}".replace(".", "p")
    return tag


def file_name(detector: Detector, reftype: str, tag: str | None = None) -> str:
    """``streamcal_<instrument>_<detector>_<reftype>[_<tag>]_<version>.fits`` (``.asdf`` for
    the ASDF types, as jwst's WCS reference files)."""
    parts = ["streamcal", detector.instrument.lower(), detector.name.lower(), reftype]
    if tag:
        parts.append(tag)
    return "_".join(parts + [syn.VERSION]) + (".asdf" if reftype in ASDF_BUILDERS else ".fits")


def _encode_dq(std: np.ndarray, local: dict[str, int]) -> np.ndarray:
    """Standard-bit DQ -> the file's own compact bits (uint8), as many CRDS files store it."""
    out = np.zeros(std.shape, dtype=np.uint8)
    for name, value in local.items():
        out[(std & np.uint32(dqflags.DQ[name])) != 0] |= np.uint8(value)
    return out


def _flag_dq(shape: tuple[int, ...], flags: dict[str, np.ndarray], local: dict[str, int]) -> np.ndarray:
    """A compact uint8 DQ with ``local[name]`` set where ``flags[name]`` is True."""
    out = np.zeros(shape, dtype=np.uint8)
    for name, where in flags.items():
        out[where] |= np.uint8(local[name])
    return out


def _header(detector: Detector, reftype: str, name: str, descrip: str, window=None) -> dict:
    ny, nx = detector.shape
    x0, y0, sx, sy, sub = 1, 1, nx, ny, "FULL"
    if window is not None:
        sub, x0, y0, sx, sy = window
    return {
        "DATE": "2025-01-01T00:00:00", "FILENAME": name, "DATAMODL": _DATAMODEL[reftype],
        "TELESCOP": "JWST", "INSTRUME": detector.instrument, "DETECTOR": detector.name,
        "SUBARRAY": sub, "SUBSTRT1": x0, "SUBSTRT2": y0, "SUBSIZE1": sx, "SUBSIZE2": sy,
        "FASTAXIS": detector.fastaxis, "SLOWAXIS": detector.slowaxis,
        "READPATT": "ANY", "EXP_TYPE": "ANY", "FILTER": "ANY", "PUPIL": "ANY",
        "REFTYPE": reftype.upper(), "USEAFTER": "2022-01-01T00:00:00", "PEDIGREE": "DUMMY",
        "DESCRIP": descrip, "AUTHOR": "streamcal synthetic reference set",
        "SYNTHVER": (syn.VERSION, "streamcal synthetic reference set version"),
    }


# --------------------------------------------------------------------- one builder per type

_MASK_BITS = {"DO_NOT_USE": 1, "DEAD": 2, "HOT": 4, "WARM": 8, "OTHER_BAD_PIXEL": 16, "REFERENCE_PIXEL": 32}


def _mask(det: Detector, meta):
    dq = _encode_dq(syn.mask_dq(det), _MASK_BITS)
    return "Synthetic bad-pixel mask", {"DQ": dq}, {"DQ_DEF": dq_def_hdu(_MASK_BITS)}, {}


def _saturation(det: Detector, meta):
    bits = {"DO_NOT_USE": 1, "NO_SAT_CHECK": 2}
    sci, no_check = syn.saturation(det)
    dq = _flag_dq(det.shape, {"NO_SAT_CHECK": no_check}, bits)
    return ("Synthetic saturation thresholds (raw DN" + ("" if det.is_miri else ", bias included") + ")",
            {"SCI": sci, "DQ": dq}, {"DQ_DEF": dq_def_hdu(bits)}, {})


def _superbias(det: Detector, meta):
    bits = {"DO_NOT_USE": 1, "UNRELIABLE_BIAS": 2}
    sci = syn.bias(det)
    err = np.full(det.shape, 5.0, dtype=np.float32)
    return ("Synthetic superbias (DN)", {"SCI": sci, "ERR": err, "DQ": np.zeros(det.shape, np.uint8)},
            {"DQ_DEF": dq_def_hdu(bits)}, {})


def _linearity(det: Detector, meta):
    bits = {"DO_NOT_USE": 1, "NO_LIN_CORR": 2}
    coeffs, no_lin = syn.linearity(det)
    dq = _flag_dq(det.shape, {"NO_LIN_CORR": no_lin}, bits)
    return ("Synthetic linearity: Fc = F + a F^2 + b F^3", {"COEFFS": coeffs, "DQ": dq},
            {"DQ_DEF": dq_def_hdu(bits)}, {})


def _gain(det: Detector, meta):
    return "Synthetic gain (e/DN)", {"SCI": syn.gain(det)}, {}, {"BUNIT": "ELECTRONS/DN"}


def _readnoise(det: Detector, meta):
    return "Synthetic CDS read noise (DN)", {"SCI": syn.readnoise(det)}, {}, {"BUNIT": "DN"}


def _ipc(det: Detector, meta):
    return "Synthetic IPC deconvolution kernel", {"SCI": syn.ipc_kernel(det)}, {}, {}


def _rscd(det: Detector, meta):
    names = list(syn.RSCD_GROUP_SKIP)
    # (subarray, readpatt, groups to skip in the first integration, in later integrations)
    rows = [(s, p, 1, syn.RSCD_GROUP_SKIP[s]) if p.startswith("FAST") else (s, p, 0, 1)
            for s in names for p in ("FAST", "FASTR1", "SLOW", "SLOWR1")]
    # names and widths of RSCDModel's schema: stdatamodels cannot cast a table whose column
    # names differ from the schema's in case only
    cols = [fits.Column("subarray", "17A", array=[r[0] for r in rows]),
            fits.Column("readpatt", "12A", array=[r[1] for r in rows]),
            fits.Column("group_skip1", "J", array=[r[2] for r in rows]),
            fits.Column("group_skip", "J", array=[r[3] for r in rows])]
    table = fits.BinTableHDU.from_columns(cols, name="RSCD_GROUP_SKIP")
    return "Synthetic RSCD groups to skip", {}, {"RSCD_GROUP_SKIP": table}, {"SUBARRAY": "GENERIC"}


def _window_of(meta: ExposureMeta) -> tuple[slice, slice]:
    return meta.window()


def _dark(det: Detector, meta: ExposureMeta):
    bits = {"DO_NOT_USE": 1, "HOT": 2, "WARM": 4, "UNRELIABLE_DARK": 8}
    win = _window_of(meta)
    rate = syn.dark_rate(det)[win]
    bad = syn.bad_pixels(det)
    dq2 = _flag_dq(rate.shape, {"HOT": bad.hot[win], "WARM": bad.warm[win]}, bits)
    if det.is_miri:
        nints, ngroups = MIRI_DARK_SHAPE
        frames = syn.dark_frames(rate, meta.tframe, ngroups)
        sci = np.broadcast_to(frames, (nints,) + frames.shape).copy()
        dq = np.broadcast_to(dq2, (nints, 1) + dq2.shape).copy()
        extra = {"NINTS": nints, "NGROUPS": ngroups}
    else:
        sci = syn.dark_frames(rate, meta.tframe, NIR_DARK_FRAMES)
        dq, extra = dq2, {"NINTS": 1, "NGROUPS": NIR_DARK_FRAMES}
    extra.update({"NFRAMES": 1, "GROUPGAP": 0, "TFRAME": meta.tframe, "TGROUP": meta.tframe,
                  "BUNIT": "DN", "DATAMODL": _DARK_MODEL.get(det.instrument, "DarkModel")})
    if det.is_miri:
        extra["READPATT"] = "SLOW" if meta.readpatt.startswith("SLOW") else "FAST"
        extra["P_READPA"] = "SLOW | SLOWR1 |" if extra["READPATT"] == "SLOW" else "FAST | FASTR1 |"
    return ("Synthetic dark (DN, group 0 subtracted)", {"SCI": sci, "DQ": dq},
            {"DQ_DEF": dq_def_hdu(bits)}, extra)


#: The dark classes jwst 3.0's dark_current step opens per instrument (others: DarkModel).
_DARK_MODEL = {"MIRI": "DarkMIRIModel", "NIRSPEC": "DarkNirspecModel"}


def _reset(det: Detector, meta: ExposureMeta):
    bits = {"DO_NOT_USE": 1}
    nints, ngroups = MIRI_DARK_SHAPE
    sci = syn.reset_anomaly(det, _window_of(meta), nints, ngroups)
    dq = np.zeros(sci.shape[-2:], np.uint8)
    return ("Synthetic reset anomaly (raw DN)", {"SCI": sci, "DQ": dq}, {"DQ_DEF": dq_def_hdu(bits)},
            {"NINTS": nints, "NGROUPS": ngroups})


_BUILDERS: dict[str, Callable] = {
    "mask": _mask, "saturation": _saturation, "superbias": _superbias, "linearity": _linearity,
    "gain": _gain, "readnoise": _readnoise, "ipc": _ipc, "rscd": _rscd,
    "dark": _dark, "reset": _reset,
}

# source_catalog's references (APCORR, ABVEGAOFFSET: streamcal.refs.synth_catalog), imagers only.
for _inst in ("NIRCAM", "NIRISS", "MIRI", "FGS"):
    SYNTHETIC_TYPES[_inst] = SYNTHETIC_TYPES[_inst] | {"apcorr", "abvegaoffset"}
_DATAMODEL.update({"apcorr": "ImgApcorrModel"})
_BUILDERS.update({"apcorr": synth_catalog.build_apcorr})

# image2's references (FLAT per filter, PHOTOM, AREA: streamcal.refs.synth_stage2): imagers, and
# NIRSpec's imaging FLAT.
for _inst, _types in synth_stage2.TYPES.items():
    SYNTHETIC_TYPES[_inst] = SYNTHETIC_TYPES[_inst] | _types
_DATAMODEL.update(synth_stage2.DATAMODELS)
_BUILDERS.update(synth_stage2.BUILDERS)

# ASDF trees, as in jwst: the WCS references (DISTORTION, FILTEROFFSET: streamcal.refs.synth_wcs)
# and ABVEGAOFFSET (streamcal.refs.synth_catalog; jwst reads its table from ASDF only).
ASDF_BUILDERS: dict[str, Callable] = {"distortion": synth_wcs.distortion_tree,
                                      "filteroffset": synth_wcs.filteroffset_tree,
                                      "abvegaoffset": synth_catalog.abvegaoffset_tree}


def _file_tag(reftype: str, detector: Detector, meta: ExposureMeta | None) -> str | None:
    """File-name tag: the window of per-window types, the filter of per-filter flats."""
    if reftype in PER_WINDOW_TYPES:
        return window_tag(detector, meta)
    if reftype == "distortion":
        return synth_wcs.distortion_tag(detector)
    return synth_stage2.flat_tag(detector, meta) if reftype == "flat" else None


def build(reftype: str, detector: Detector, meta: ExposureMeta | None = None) -> tuple[str, fits.HDUList]:
    """File name and HDU list of one synthetic reference file.

    ``meta`` (the exposure) is needed for the per-window types (dark, reset).  The ASDF types
    (:data:`ASDF_BUILDERS`) are trees, not HDU lists: :func:`ensure` writes those.

    Raises
    ------
    KeyError
        The synthetic set has no such reference type for this detector, or it is an ASDF type.
    """
    if not supported(reftype, detector, meta) or reftype in ASDF_BUILDERS:
        raise KeyError(f"the synthetic set has no {reftype} FITS reference for {detector.name}"
                       + (f" {meta.exp_type}" if meta is not None else ""))
    per_window = reftype in PER_WINDOW_TYPES
    if per_window and meta is None:
        raise ValueError(f"{reftype} references are per window: pass the exposure metadata")
    name = file_name(detector, reftype, _file_tag(reftype, detector, meta))
    descrip, images, tables, extra = _BUILDERS[reftype](detector, meta)
    window = ((meta.subarray, meta.substrt1, meta.substrt2, meta.subsize1, meta.subsize2)
              if per_window else None)
    header = _header(detector, reftype, name, descrip, window)
    header.update({k: v for k, v in extra.items() if k != "BUNIT"})
    hdul = reffile_hdulist(header, images, tables)
    if "BUNIT" in extra and len(hdul) > 1:
        hdul[1].header["BUNIT"] = extra["BUNIT"]
    return name, hdul


def ensure(reftype: str, detector: Detector, meta: ExposureMeta | None, directory: Path,
           pool: Path | None = None) -> Path:
    """Path of a synthetic reference file in ``directory``, made first if it is not there.

    Synthetic files are pure functions of their name, so with a ``pool`` directory (on the same
    file system) a file is generated there once and hard-linked into every other directory:
    test sessions and workers with their own cache directories share the disk space instead of
    each writing ~300 MB per detector.  Without a pool, or when linking is impossible, the file
    is generated in ``directory``.
    """
    family = _family(reftype, detector, meta)
    if family is not None:
        tag = family.file_tag(reftype, detector, meta)
        name = file_name(detector, reftype, tag)
        if family.is_asdf(reftype, detector, meta):
            name = name.removesuffix(".fits") + ".asdf"
        elif getattr(family, "is_json", None) and family.is_json(reftype, detector, meta):
            name = name.removesuffix(".fits") + ".json"
    else:
        name = file_name(detector, reftype, _file_tag(reftype, detector, meta))
    path = directory / name
    if path.exists():
        return path
    if pool is not None and pool.resolve() != directory.resolve():
        pooled = ensure(reftype, detector, meta, pool)
        if _link_into(pooled, path):
            return path
    if family is not None:
        made = family.build(reftype, detector, meta, name)
        if isinstance(made, dict):
            write_asdf_reffile(made, path)
        elif isinstance(made, str):
            _write_text(made, path)
        else:
            atomic_write(made, path)
        return path
    if reftype in ASDF_BUILDERS:
        write_asdf_reffile(ASDF_BUILDERS[reftype](detector, name, syn.VERSION), path)
        return path
    _, hdul = build(reftype, detector, meta)
    atomic_write(hdul, path)
    return path


def _write_text(text: str, path: Path) -> None:
    """Write a text reference file (JSON) atomically: hidden temporary name, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _link_into(source: Path, target: Path) -> bool:
    """Hard-link ``source`` to ``target`` atomically (link to a hidden name, then rename)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.link")
    try:
        os.link(source, tmp)
        os.replace(tmp, target)
        return True
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
