"""Several exposures at once: a dither sequence (``streamcal simulate``), a dithered star field
with pointing errors and its truth (``simulate_dither``), and the demo's small observing program."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from astropy.table import Table

from ..detectors import get_detector
from .exposure import ExposureConfig, default_refs, simulate_exposure

if TYPE_CHECKING:
    from ..refs import ReferenceSet

#: Offsets of a small dither pattern, arcsec (a 4-point box with sub-pixel steps, then more).
DITHER_OFFSETS = ((0.0, 0.0), (0.52, 0.31), (0.21, 0.83), (0.73, 1.14), (1.04, 0.42),
                  (0.31, 1.45), (1.35, 0.93), (0.84, 1.76), (1.56, 1.24))


def dither_offset(k: int) -> tuple[float, float]:
    """Offset of dither position ``k`` (0-based), arcsec; beyond the table the pattern repeats
    shifted by 2 arcsec."""
    dx, dy = DITHER_OFFSETS[k % len(DITHER_OFFSETS)]
    shift = 2.0 * (k // len(DITHER_OFFSETS))
    return dx + shift, dy + shift


def simulate_to_directory(out_dir: str | Path, *, detector: str = "NRCA1", exp_type: str = "NRC_IMAGE",
                          subarray: str | None = "SUB400P", readpatt: str | None = None, ngroups: int = 10,
                          nints: int = 1, n_exposures: int = 1, seed: int = 0,
                          refs: ReferenceSet | None = None, truth_dir: str | Path | None = None,
                          **config) -> list[Path]:
    """Simulate ``n_exposures`` exposures of one observation (a dither sequence when more than
    one) into ``out_dir``; truth goes to ``truth_dir`` (default ``out_dir/truth``).

    Extra keyword arguments are :class:`ExposureConfig` fields (target_ra, cosmic_ray_rate, ...).

    Returns
    -------
    list of Path
        The ``_uncal.fits`` files, in exposure order.

    Raises
    ------
    ValueError
        An impossible configuration.
    """
    refs = refs if refs is not None else default_refs()
    base = ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, readpatt=readpatt,
                          ngroups=ngroups, nints=nints, **config)
    return [simulate_exposure(cfg, refs).write(out_dir, truth_dir) for cfg in dither_configs(base, n_exposures, seed)]


def dither_configs(base: ExposureConfig, n_exposures: int, seed: int) -> list[ExposureConfig]:
    """The exposures of one observation: numbered, each with its own noise seed (and pointing
    error), the dither keywords set and the pattern's offsets when more than one."""
    return [replace(base, exposure=base.exposure + k, seed=seed + k, patt_num=k + 1, numdthpt=n_exposures,
                    patttype="4-POINT-BOX" if n_exposures > 1 else base.patttype,
                    dither_offset=dither_offset(k) if n_exposures > 1 else base.dither_offset,
                    expstart_mjd=base.expstart_mjd + k * 0.01)
            for k in range(n_exposures)]


@dataclass
class DitherResult:
    """What :func:`simulate_dither` made: raw files, pointing truth (one row per exposure),
    the star field (ra, dec deg; flux_e e-/s; kind)."""

    paths: list[Path]
    pointing: Table
    stars: Table


#: Imaging EXP_TYPE of each instrument (simulate_dither).
_IMAGE_TYPE = {"NIRCAM": "NRC_IMAGE", "NIRISS": "NIS_IMAGE", "MIRI": "MIR_IMAGE", "FGS": "FGS_IMAGE"}


def simulate_dither(out_dir: str | Path, *, detector: str = "NRCA1", subarray: str = "SUB400P",
                    filter: str | None = "F200W", npoints: int = 4, pointing_error_arcsec: float = 1.0,
                    star_count: int = 120, star_flux_e: tuple[float, float] = (30.0, 2e4),
                    cosmic_rays: bool = True, ngroups: int = 10, seed: int = 0, refs: ReferenceSet | None = None,
                    truth_dir: str | Path | None = None, **config) -> DitherResult:
    """Simulate a dithered star field: ``npoints`` exposures of one observation (same target,
    PATTTYPE/NUMDTHPT/PATT_NUM set), each with its own random pointing error.

    Defaults: NIRCam SUB400P F200W, 10 RAPID groups (16.6 s); ~``star_count`` stars over the
    window, rates log-uniform in ``star_flux_e`` e-/s (30-2e4: none saturate; ~75 % have S/N
    above 20 in a 3-pixel aperture), no galaxies; cosmic rays at the JWST rate (5e-5 per pixel
    per second) unless ``cosmic_rays`` is False.  Extra keyword arguments are
    :class:`ExposureConfig` fields.

    Truth (in ``truth_dir``, default ``out_dir/truth``): per exposure the usual truth files,
    whose primary header carries the true pointing and the injected error; and
    ``<observation>_pointing_truth.ecsv`` (one row per exposure: header and true RA_REF,
    DEC_REF, ROLL_REF and the error east/north/roll in arcsec) and
    ``<observation>_stars_truth.ecsv`` (ra, dec, flux_e of every star of the field).

    Returns
    -------
    DitherResult
        The ``_uncal.fits`` paths and the two truth tables.
    """
    refs = refs if refs is not None else default_refs()
    instrument = get_detector(detector).instrument
    base = ExposureConfig(detector=detector, exp_type=_IMAGE_TYPE[instrument], subarray=subarray, filter=filter,
                          ngroups=ngroups, pointing_error_arcsec=pointing_error_arcsec, star_count=star_count,
                          star_flux_e=star_flux_e, galaxies_per_arcmin2=0.0,
                          cosmic_ray_rate=ExposureConfig.cosmic_ray_rate if cosmic_rays else 0.0, **config)
    tdir = Path(truth_dir) if truth_dir is not None else Path(out_dir) / "truth"
    paths, rows, stars = [], [], None
    for cfg in dither_configs(base, npoints, seed):
        exposure = simulate_exposure(cfg, refs)
        paths.append(exposure.write(out_dir, tdir))
        rows.append(_pointing_row(exposure))
        stars = exposure.truth.sources if stars is None else stars
    result = DitherResult(paths, Table(rows), stars[["ra", "dec", "flux_e", "kind"]])
    prefix = paths[0].name.split("_")[0]
    result.pointing.write(tdir / f"{prefix}_pointing_truth.ecsv", format="ascii.ecsv", overwrite=True)
    result.stars.write(tdir / f"{prefix}_stars_truth.ecsv", format="ascii.ecsv", overwrite=True)
    return result


def _pointing_row(exposure) -> dict:
    sci = exposure.hdul["SCI"].header
    cards = {k: v[0] for k, v in exposure.truth.pointing_cards.items()}
    return {"filename": exposure.filename, "ra_ref": sci["RA_REF"], "dec_ref": sci["DEC_REF"],
            "roll_ref": sci["ROLL_REF"], "true_ra_ref": cards["TRA_REF"], "true_dec_ref": cards["TDEC_REF"],
            "true_roll_ref": cards["TROLLREF"], "error_east_arcsec": cards["PERR_E"],
            "error_north_arcsec": cards["PERR_N"], "error_roll_arcsec": cards["PERR_ROL"]}


def program_configs(seed: int = 0) -> list[ExposureConfig]:
    """The demo program: a NIRCam 4-point dither (SUB400P), a NIRISS image, a MIRI SUB256 image,
    a NIRCam TSO, a NIRCam dark and an FGS ACQ1 guide-star acquisition -- about 6 M pixel
    reads in all, simulated in seconds once the reference files exist."""
    common = dict(program=1234, expstart_mjd=60676.0)
    nircam = [ExposureConfig(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB400P", ngroups=5,
                             observation=1, exposure=k + 1, patttype="4-POINT-BOX", patt_num=k + 1, numdthpt=4,
                             dither_offset=dither_offset(k), seed=seed + k, star_count=60, **common)
              for k in range(4)]   # a star field, so the mosaic's catalog has something to show
    return nircam + [
        ExposureConfig(detector="NIS", exp_type="NIS_IMAGE", subarray="SUB256", ngroups=5, observation=2,
                       seed=seed + 10, **common),
        ExposureConfig(detector="MIRIMAGE", exp_type="MIR_IMAGE", subarray="SUB256", ngroups=10, nints=2,
                       observation=3, seed=seed + 20, **common),
        ExposureConfig(detector="NRCA1", exp_type="NRC_TSIMAGE", subarray="SUB64P", ngroups=5, nints=20,
                       observation=4, seed=seed + 30, target_flux_e=2e5, **common),
        ExposureConfig(detector="NRCA1", exp_type="NRC_DARK", subarray="SUB160P", ngroups=6, observation=5,
                       seed=seed + 40, **common),
        ExposureConfig(detector="GUIDER2", exp_type="FGS_ACQ1", nints=6, ngroups=2, observation=1,
                       seed=seed + 50, **common),
    ]


def simulate_program(out_dir: str | Path, *, seed: int = 0, refs: ReferenceSet | None = None,
                     truth_dir: str | Path | None = None) -> list[Path]:
    """Simulate the demo's small observing program into ``out_dir`` (see :func:`program_configs`).

    Returns
    -------
    list of Path
        The ``_uncal.fits`` files written.
    """
    refs = refs if refs is not None else default_refs()
    return [simulate_exposure(cfg, refs).write(out_dir, truth_dir) for cfg in program_configs(seed)]
