"""Box extraction of one 2-D spectral image, with an optional fitted background.

Arrays here are oriented with dispersion along axis 1 (columns) and cross-dispersion along
axis 0; :mod:`.extract` transposes vertical spectra.  Units are those of the image (MJy/sr
after photom); variances are its squares.  NaN pixels carry no weight.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["BoxSums", "fit_background", "box_sums"]


@dataclass(frozen=True)
class BoxSums:
    """Per dispersion pixel: the weighted sum of the (background-subtracted) image, its
    variances (poisson/rnoise/flat, background's added), the summed background, the
    background variances, and ``npixels`` (sum of the weights)."""

    flux: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray
    background: np.ndarray
    bkg_var_poisson: np.ndarray
    bkg_var_rnoise: np.ndarray
    bkg_var_flat: np.ndarray
    npixels: np.ndarray


@dataclass(frozen=True)
class Background:
    """A fitted 2-D background and the variances it adds to a box sum over ``profile``."""

    image: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    var_flat: np.ndarray


def _smooth(image: np.ndarray, length: int) -> np.ndarray:
    """Boxcar along dispersion; NaNs are interpolated over (astropy's convolve), edges extended."""
    if length <= 1:
        return image.copy()
    if length % 2 != 1:
        raise ValueError("smoothing_length must be an odd integer >= 1")
    from astropy import convolution

    return convolution.convolve(image, np.ones((1, length)) / length, boundary="extend")


def _design(image: np.ndarray, profile_bg: np.ndarray, weights: np.ndarray, order: int):
    """Per column: the normal matrix and vector of a polynomial in y on [-1, 1] fitted to the
    background pixels (weights ``weights``), and the basis for rebuilding the fit."""
    y = np.linspace(-1, 1, image.shape[0])
    basis = np.ones((image.shape[1], image.shape[0], order + 1))
    for i in range(1, order + 1):
        basis[..., i] = basis[..., i - 1] * y[None, :]
    used = (profile_bg.T != 0) & np.isfinite(image.T)
    target = np.where(used, image.T, 0.0) * weights.T
    masked = basis * used[:, :, None] * weights.T[:, :, None]
    matrix = np.einsum("lji,ljk->lik", masked, masked)
    vector = np.einsum("lji,lj->li", masked, target)
    return matrix, vector, basis, masked


def fit_background(image: np.ndarray, profile: np.ndarray, profile_bg: np.ndarray, var_poisson: np.ndarray,
                   var_rnoise: np.ndarray, var_flat: np.ndarray, *, fit: str, order: int,
                   smoothing_length: int) -> Background:
    """Background under the aperture, fitted column by column on the ``profile_bg`` pixels.

    ``fit="poly"``: least-squares polynomial of ``order`` in the cross-dispersion coordinate
    (unit weights on finite pixels; singular columns give 0); its variance is propagated
    through the fit to the aperture sum.  ``fit="median"``: the median of the background
    pixels, with 1.2² × the variance of their mean (the usual efficiency of a median).
    """
    variance = var_rnoise + var_poisson + var_flat
    weights = (np.isfinite(variance) & np.isfinite(image)).astype(float)
    source = _smooth(image, smoothing_length)
    if fit == "median":
        masked = np.where(profile_bg == 0, np.nan, source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            level = np.nanmedian(masked, axis=0)
        npix = np.sum(profile, axis=0)
        use = np.isfinite(image) & np.isfinite(variance) & (profile_bg != 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pixwgt = use / np.sum(use, axis=0)[None, :]
        var = [1.2**2 * npix**2 * np.nansum(v * pixwgt**2, axis=0) for v in (var_poisson, var_rnoise, var_flat)]
        return Background(level[None, :] * np.ones_like(image), *var)
    if fit != "poly" or order < 0 or order != int(order):
        raise ValueError("background fit must be 'median' or 'poly' with an integer order >= 0")
    matrix, vector, basis, masked = _design(source, profile_bg, weights, int(order))
    ok = np.linalg.cond(matrix) < 1e10
    cov = np.zeros(matrix.shape)
    cov[ok] = np.linalg.inv(matrix[ok])
    coefs = np.einsum("ijk,ij->ik", cov, vector)
    # weight of every pixel in every coefficient, then in the background summed over the aperture
    pixwgt = weights.T[:, :, None] * np.einsum("ijk,ilj->ilk", cov, masked)
    summed_basis = np.sum(np.swapaxes(basis, 0, 1) * profile[:, :, None], axis=0)
    total = np.sum(summed_basis[:, None, :] * pixwgt, axis=-1)
    var = [np.nansum(v.T * total**2, axis=1) for v in (var_poisson, var_rnoise, var_flat)]
    image_bg = np.sum(coefs[:, None, :] * basis, axis=-1).T
    return Background(image_bg, *var)


def box_sums(image: np.ndarray, profile: np.ndarray, var_poisson: np.ndarray, var_rnoise: np.ndarray,
             var_flat: np.ndarray, background: Background | None = None) -> BoxSums:
    """Weighted column sums of ``image`` minus ``background`` over ``profile``.

    NaN/inf pixels get weight 0 (and ``npixels`` counts only the rest); columns with no
    weight give NaN flux.  Variances are ``sum(var × weight²)`` plus the background's.
    """
    data = image - background.image if background is not None else image
    weights = np.where(np.isfinite(data), profile, 0.0)
    data = np.where(weights == 0, 0.0, data)
    flux = np.sum(data * weights, axis=0)
    npixels = np.sum(weights, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        var = [np.nansum(v * weights**2, axis=0) for v in (var_poisson, var_rnoise, var_flat)]
    if background is not None:
        bvar = [background.var_poisson, background.var_rnoise, background.var_flat]
        var = [v + b for v, b in zip(var, bvar)]
        bkg = np.sum(background.image * weights, axis=0)
        bkg[~np.isfinite(bkg)] = 0.0
    else:
        bvar = [np.zeros(image.shape[1])] * 3
        bkg = np.zeros(image.shape[1])
    flux = np.where(np.isclose(npixels, 0), np.nan, flux)
    return BoxSums(flux, var[0], var[1], var[2], bkg, bvar[0], bvar[1], bvar[2], npixels)
