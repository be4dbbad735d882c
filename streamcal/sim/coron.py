"""A coronagraphic sequence: a bright star behind the occulter with a faint companion
(science), and a reference star without one (PSF), as raw exposures.

The star light is a Gaussian core plus a residual halo -- a power-law wing and a fixed pattern
of speckles (Gaussian blobs at radii of 3-25 PSF sigma, placed by ``speckle_seed`` relative to
the star, so science and PSF exposures share it) -- all multiplied by the occulter's
transmission (:func:`streamcal.refs.synth_coron.transmission`, the synthetic PSFMASK's).  The
companion is a Gaussian of the same sigma at ``companion_offset`` from the star, unocculted.
The reference star differs in brightness (``star_flux_e``) and sits ``star_offset`` pixels
from the mask centre (a small pointing offset).  PSF exposures carry IS_PSF = T, which the
association rules read to make them ``psf`` members of the coron3 product.

Truth: rows of kind ``corostar`` and ``companion`` (x, y 0-based pixels; flux_e e-/s, total
before occultation) join the exposure's ``_sources.ecsv``; :func:`read_coron_truth` reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack
from scipy.special import erf

from ..refs.synth_coron import mask_centre, transmission

__all__ = ["CoronScene", "CoronTruth", "render_coron", "coron_rows", "add_to_catalog", "header_cards",
           "read_coron_truth", "simulate_coron_sequence"]

#: Peak of the halo's power-law wing relative to the star's total flux per pixel at 1 sigma.
HALO_FRACTION = 0.02
SPECKLES = 40


@dataclass(frozen=True)
class CoronScene:
    """The coronagraphic part of one exposure.

    Attributes
    ----------
    star_flux_e : float
        The star's total rate before the occulter, e-/s.
    star_offset : (float, float)
        The star's (dx, dy) from the mask centre, pixels.
    companion_flux_e : float
        Companion total rate, e-/s (0: none, as in a PSF exposure).
    companion_offset : (float, float)
        The companion's (dx, dy) from the star, pixels.
    is_psf : bool
        A PSF-reference exposure (IS_PSF = T).
    speckle_seed : int
        The speckle pattern (the same for every exposure of a sequence).
    """

    star_flux_e: float = 5e6
    star_offset: tuple[float, float] = (0.0, 0.0)
    companion_flux_e: float = 2e4
    companion_offset: tuple[float, float] = (35.0, 20.0)
    is_psf: bool = False
    speckle_seed: int = 11


@dataclass(frozen=True)
class CoronTruth:
    """Star and companion of one simulated exposure (0-based pixels, e-/s; companion_flux_e 0
    when there is none)."""

    star_x: float
    star_y: float
    star_flux_e: float
    companion_x: float
    companion_y: float
    companion_flux_e: float


def _gauss_pixels(shape, x0, y0, sigma) -> np.ndarray:
    """A unit-flux Gaussian integrated over pixels (separable erf)."""
    def axis(n, c):
        edges = np.arange(n + 1) - 0.5
        cdf = 0.5 * (1.0 + erf((edges - c) / (math.sqrt(2.0) * sigma)))
        return np.diff(cdf)
    return np.outer(axis(shape[0], y0), axis(shape[1], x0))


def _halo(shape, x0, y0, sigma, seed) -> np.ndarray:
    """Residual halo per unit star flux: power-law wing plus speckles (fixed relative to the star)."""
    y, x = np.indices(shape, dtype=np.float64)
    r = np.hypot(x - x0, y - y0) / sigma
    halo = HALO_FRACTION / (2 * math.pi * sigma ** 2) * (1.0 + r) ** -2.5
    rng = np.random.default_rng(seed)
    radius = rng.uniform(3.0, 25.0, SPECKLES) * sigma
    angle = rng.uniform(0, 2 * math.pi, SPECKLES)
    weight = rng.uniform(0.2, 1.0, SPECKLES) * 3e-3 * (radius / sigma) ** -1.5
    for rad, ang, w in zip(radius, angle, weight):
        halo += w * _gauss_pixels(shape, x0 + rad * math.cos(ang), y0 + rad * math.sin(ang), 1.5 * sigma)
    return halo


def render_coron(scene: CoronScene, instrument: str, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """The coronagraphic scene on the window, e-/s/pixel (float64)."""
    xc, yc = mask_centre(shape)
    x0, y0 = xc + scene.star_offset[0], yc + scene.star_offset[1]
    star = _gauss_pixels(shape, x0, y0, sigma) + _halo(shape, x0, y0, sigma, scene.speckle_seed)
    image = scene.star_flux_e * star * transmission(instrument, shape)
    if scene.companion_flux_e > 0:
        cx, cy = x0 + scene.companion_offset[0], y0 + scene.companion_offset[1]
        image += scene.companion_flux_e * _gauss_pixels(shape, cx, cy, sigma)
    return image


def coron_rows(scene: CoronScene, shape: tuple[int, int], wcs) -> Table:
    """Truth rows (kind corostar / companion) in the sources-table layout; ra/dec through ``wcs``."""
    xc, yc = mask_centre(shape)
    x0, y0 = xc + scene.star_offset[0], yc + scene.star_offset[1]
    xs = [x0, x0 + scene.companion_offset[0]]
    ys = [y0, y0 + scene.companion_offset[1]]
    ra, dec = wcs(np.array(xs), np.array(ys), with_bounding_box=False)
    return Table({"ra": np.asarray(ra, float), "dec": np.asarray(dec, float),
                  "flux_e": [scene.star_flux_e, scene.companion_flux_e], "kind": ["corostar", "companion"],
                  "sigma_major": [0.0, 0.0], "sigma_minor": [0.0, 0.0], "theta": [0.0, 0.0],
                  "x": xs, "y": ys})


def add_to_catalog(catalog: Table, rows: Table) -> Table:
    """``catalog`` with the coronagraphic truth rows appended."""
    return vstack([catalog, rows]) if len(catalog) else rows


def header_cards(scene: CoronScene) -> dict:
    """Primary-header cards: IS_PSF (jwst's keyword for PSF-reference exposures)."""
    return {"IS_PSF": (bool(scene.is_psf), "PSF reference exposure")}


def read_coron_truth(path: str | Path) -> CoronTruth:
    """The star and companion of a ``<root>_sources.ecsv`` truth table.

    Raises
    ------
    ValueError
        The table has no coronagraphic star.
    """
    table = Table.read(path, format="ascii.ecsv")
    kinds = [str(k) for k in table["kind"]]
    if "corostar" not in kinds:
        raise ValueError(f"{path}: no coronagraphic star in the truth table")
    star = table[kinds.index("corostar")]
    comp = table[kinds.index("companion")]
    return CoronTruth(float(star["x"]), float(star["y"]), float(star["flux_e"]), float(comp["x"]),
                      float(comp["y"]), float(comp["flux_e"]))


def simulate_coron_sequence(out_dir: str | Path, *, detector: str = "NRCALONG", exp_type: str = "NRC_CORON",
                            subarray: str = "SUB320A335R", filter: str = "F335M", pupil: str | None = "MASKRND",
                            nints: int = 2, ngroups: int = 3, n_psf: int = 2, science: CoronScene = CoronScene(),
                            psf_flux_ratio: float = 1.2, psf_offset: tuple[float, float] = (0.05, -0.03),
                            refs=None, **config) -> tuple[list[Path], list[Path]]:
    """A science exposure (exposure 1) and ``n_psf`` PSF exposures (exposures 2, 3 ... of the
    same observation, targname PSF-REFERENCE, their own noise seeds) written to ``out_dir`` with
    their truth in ``out_dir/truth``.  Extra keyword arguments are ExposureConfig fields.

    Returns
    -------
    science, psf : list of Path
        The ``_uncal.fits`` files.
    """
    from .exposure import ExposureConfig, default_refs, simulate_exposure

    refs = refs if refs is not None else default_refs()
    base = ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, filter=filter, pupil=pupil,
                          nints=nints, ngroups=ngroups, stars_per_arcmin2=0.0, galaxies_per_arcmin2=0.0,
                          target_flux_e=0.0, coron=science, **config)
    sci = [simulate_exposure(base, refs).write(out_dir)]
    psf_scene = replace(science, star_flux_e=science.star_flux_e * psf_flux_ratio, star_offset=psf_offset,
                        companion_flux_e=0.0, is_psf=True)
    psf = [simulate_exposure(replace(base, coron=psf_scene, exposure=k + 2, seed=base.seed + k + 1,
                                     targname="PSF-REFERENCE"), refs).write(out_dir)
           for k in range(n_psf)]
    return sci, psf
