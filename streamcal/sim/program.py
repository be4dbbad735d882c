"""Several exposures at once: a dither sequence (``streamcal simulate``) and the demo's small
observing program."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..refs import ReferenceSet
from .exposure import ExposureConfig, simulate_exposure

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
    refs = refs if refs is not None else ReferenceSet()
    base = ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, readpatt=readpatt,
                          ngroups=ngroups, nints=nints, **config)
    paths = []
    for k in range(n_exposures):
        cfg = replace(base, exposure=base.exposure + k, seed=seed + k, patt_num=k + 1, numdthpt=n_exposures,
                      patttype="4-POINT-BOX" if n_exposures > 1 else base.patttype,
                      dither_offset=dither_offset(k) if n_exposures > 1 else base.dither_offset,
                      expstart_mjd=base.expstart_mjd + k * 0.01)
        paths.append(simulate_exposure(cfg, refs).write(out_dir, truth_dir))
    return paths


def program_configs(seed: int = 0) -> list[ExposureConfig]:
    """The demo program: a NIRCam 4-point dither (SUB400P), a NIRISS image, a MIRI SUB256 image,
    a NIRCam TSO, a NIRCam dark and an FGS ACQ1 guide-star acquisition -- about 6 M pixel
    reads in all, simulated in seconds once the reference files exist."""
    common = dict(program=1234, expstart_mjd=60676.0)
    nircam = [ExposureConfig(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB400P", ngroups=5,
                             observation=1, exposure=k + 1, patttype="4-POINT-BOX", patt_num=k + 1, numdthpt=4,
                             dither_offset=dither_offset(k), seed=seed + k, **common) for k in range(4)]
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
    refs = refs if refs is not None else ReferenceSet()
    return [simulate_exposure(cfg, refs).write(out_dir, truth_dir) for cfg in program_configs(seed)]
