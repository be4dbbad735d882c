"""source_catalog on the real MIRI ``_i2d`` files (jwst 1.8.2, Orion, SUB128, three filters):
the catalog must agree with photutils run directly on the same image with the same
parameters, written out here step by step (Background2D, threshold, kernel, SourceFinder,
SourceCatalog, circular apertures minus a sigma-clipped annulus median)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.convolution import Gaussian2DKernel, convolve
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from conftest import extdata
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture, aperture_photometry
from photutils.background import Background2D, MedianBackground
from photutils.segmentation import SourceCatalog, SourceFinder

from streamcal.fitsio import read_mosaic
from streamcal.steps import source_catalog as sc

FILES = ["jw01288015001_04101_00001_mirimage_i2d.fits",   # F1130W
         "jw01288015001_26101_00003_mirimage_i2d.fits",   # F770W
         "jw01288016001_34101_00002_mirimage_i2d.fits"]   # F1500W


def _direct(mosaic, params: sc.Params, apertures: sc.ApertureParams):
    """photutils by hand: the jwst recipe with the step's parameters."""
    to_jy = 1e6 * float(mosaic.sci_header["PIXAR_SR"])
    data = mosaic.data.astype(float) * to_jy
    err = mosaic.err.astype(float) * to_jy
    mask = ~np.isfinite(data) | ~np.isfinite(err) | (mosaic.wht <= 0)
    data, err = np.where(mask, 0.0, data), np.where(mask, 0.0, err)
    bkg = Background2D(data, params.bkg_boxsize, filter_size=(3, 3), coverage_mask=mask,
                       sigma_clip=SigmaClip(sigma=3.0), bkg_estimator=MedianBackground())
    sub = np.where(mask, 0.0, data - bkg.background)
    conv = convolve(sub, Gaussian2DKernel(params.kernel_fwhm * gaussian_fwhm_to_sigma), mask=mask)
    segm = SourceFinder(params.npixels, connectivity=8, deblend=True, n_levels=params.nlevels,
                        contrast=params.contrast, mode="exponential", progress_bar=False)(
        conv, params.snr_threshold * bkg.background_rms, mask=mask)
    cat = SourceCatalog(sub, segm, convolved_data=conv, error=err, mask=mask, wcs=mosaic.wcs)
    xy = np.column_stack([cat.x_centroid, cat.y_centroid])
    annulus = ApertureStats(np.where(mask, np.nan, data), CircularAnnulus(xy, apertures.skyin, apertures.skyout),
                            sigma_clip=SigmaClip(sigma=3.0))
    fluxes = []
    for radius in apertures.radii:
        aperture = CircularAperture(xy, radius)
        phot = aperture_photometry(data, aperture, error=err, mask=mask)
        fluxes.append(np.asarray(phot["aperture_sum"]) - annulus.median * aperture.area)
    return cat, np.asarray(segm.data), fluxes


@pytest.mark.parametrize("name", FILES)
def test_real_miri_i2d_catalog_agrees_with_photutils(name, refs):
    """Same sources, positions to 1e-6 px and isophotal fluxes to 1e-6 (the same algorithm on the
    same pixels: only float ordering differs); aperture fluxes to 1e-6 relative of the source's
    own flux scale (our annulus median is a clipped median of the same pixels, ApertureStats
    computes it independently); sky positions are the file's own gwcs at the centroids."""
    mosaic = read_mosaic(extdata("fits", name))
    meta = sc.catalog_meta(mosaic)
    assert (meta.instrument, meta.detector, meta.subarray) == ("MIRI", "MIRIMAGE", "SUB128")
    found = {k: refs.get(k, meta) for k in sc.REFTYPES}
    # jwst's bkg_boxsize 1000 makes one box of this 129 x 137 subarray, whose bright Orion
    # nebulosity then hides all but 0-1 sources; 32-pixel meshes follow the nebula
    params = sc.Params(bkg_boxsize=32)
    result, report = sc.run(mosaic, found, params)
    cat = result.catalog
    assert report.status == "COMPLETE" and len(cat) >= 2, report.note
    apertures = sc.aperture_params(found["apcorr"], meta, (30, 50, 70))
    direct, segm, fluxes = _direct(mosaic, params, apertures)
    assert len(direct) == len(cat)
    assert np.array_equal(result.segm, segm)
    assert np.allclose(cat["xcentroid"], direct.x_centroid, atol=1e-6, rtol=0)
    assert np.allclose(cat["ycentroid"], direct.y_centroid, atol=1e-6, rtol=0)
    assert np.allclose(cat["isophotal_flux"].value, direct.segment_flux, rtol=1e-6)
    assert np.allclose(cat["isophotal_area"].value, direct.area.value)
    scale = np.abs(direct.segment_flux)
    for ee, flux in zip((30, 50, 70), fluxes):
        assert np.all(np.abs(cat[f"aper{ee}_flux"].value - flux) <= 1e-6 * scale + 1e-12)
    ra, dec = mosaic.wcs(cat["xcentroid"], cat["ycentroid"])
    assert np.allclose(cat["sky_centroid"].ra.deg, ra) and np.allclose(cat["sky_centroid"].dec.deg, dec)
    # the sources are on the sky of the file's footprint (Orion, RA 83.8, Dec -5.4)
    assert np.all(np.abs(cat["sky_centroid"].ra.deg - 83.83) < 0.01)
