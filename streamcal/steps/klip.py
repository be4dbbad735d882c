"""klip: PSF subtraction by Karhunen-Loeve image projection (jwst 3.0 ``klip``; calwebb_coron3's
``_psfsub``).

For each science integration T (flattened, float64) and the aligned PSF planes R_k:

1. Each R_k minus its own mean.
2. KL basis: the eigenvectors of the R covariance (``numpy.cov`` over planes, ``eigh``) sorted
   by decreasing eigenvalue, projected on R and each normalised to unit length; the first
   ``truncate`` (50) are kept.
3. PSF model = the projection of T on the basis; result = T - mean(T) - PSF model.  (The basis
   vectors have zero mean, so T's mean does not enter the projection.)
4. ERR = the standard deviation over k of R_k minus its own projection on the basis (the
   refs' own KLIP residuals; jwst's ERR), DQ and the other arrays unchanged.

The result is in the science units (MJy/sr or DN/s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from ..models import ImageModel
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "Params", "KlipResult", "kl_basis", "klip_frame", "klip_cube", "klip", "run"]

NAME = "klip"
STATUS_KEYWORD = "S_KLIP"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """klip parameters (jwst names and defaults).

    Attributes
    ----------
    truncate : int
        KL modes kept (50); more than the PSF planes means all of them.
    """

    truncate: int = 50

    def __post_init__(self):
        if self.truncate < 0:
            raise ValueError(f"klip.truncate must be >= 0, got {self.truncate}")


@dataclass(frozen=True)
class KlipResult:
    """PSF-subtracted science and its uncertainty.

    Attributes
    ----------
    data : ndarray, float64 (nints, ny, nx)
        Science minus its mean minus the KL PSF model.
    err : ndarray, float64 (nints, ny, nx)
        Std of the refs' own residuals (the same for every integration).
    psf : ndarray, float64 (nints, ny, nx)
        The PSF model subtracted.
    """

    data: np.ndarray
    err: np.ndarray
    psf: np.ndarray


def kl_basis(refs: np.ndarray, truncate: int) -> np.ndarray:
    """The first ``truncate`` unit KL vectors (rows) of mean-subtracted flattened refs (npsf, npix)."""
    values, vectors = np.linalg.eigh(np.cov(refs))
    order = np.argsort(values)[::-1]
    basis = vectors[:, order].T @ refs
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    return basis[:truncate]


def klip_frame(target: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(residual, PSF model) of one flattened frame against a KL basis (steps 3)."""
    model = basis.T @ (basis @ target)
    return target - target.mean() - model, model


def klip_cube(science: np.ndarray, refs: np.ndarray, truncate: int = 50) -> KlipResult:
    """KLIP every integration of ``science`` (nints, ny, nx) with the aligned ``refs`` (npsf, ny, nx).

    Raises
    ------
    ValueError
        Frames of different shapes.
    """
    if science.shape[-2:] != refs.shape[-2:]:
        raise ValueError(f"klip: science frame {science.shape[-2:]} and PSF frame {refs.shape[-2:]} differ")
    flat = refs.reshape(refs.shape[0], -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    basis = kl_basis(flat, truncate)
    own = flat - (flat @ basis.T) @ basis
    err = np.std(own, axis=0).reshape(science.shape[-2:])
    data, psf = [], []
    for frame in science.reshape(science.shape[0], -1).astype(np.float64):
        residual, model = klip_frame(frame, basis)
        data.append(residual)
        psf.append(model)
    shape = science.shape
    return KlipResult(np.reshape(data, shape), np.broadcast_to(err, shape).copy(), np.reshape(psf, shape))


def klip(target: ImageModel, aligned: ImageModel, params: Params = Params()) -> ImageModel:
    """The ``_psfsub`` content: ``target`` (bad pixels already replaced by align_refs) minus its
    KL PSF model, float32, ERR the refs' residual std; DQ and header of ``target``."""
    result = klip_cube(target.data, aligned.data, params.truncate)
    return replace(target, data=result.data.astype(np.float32), err=result.err.astype(np.float32),
                   header=target.header.copy())


def run(target: ImageModel, aligned: ImageModel, refs: Mapping, params: Params = Params()):
    """Step adapter (calwebb_coron3): ``(psfsub, StepReport)``."""
    if params.skip:
        return target, skipped("skipped by parameter")
    out = klip(target, aligned, params)
    kept = min(params.truncate, aligned.data.shape[0])
    return out, StepReport(note=f"{kept} KL modes of {aligned.data.shape[0]} PSF planes")
