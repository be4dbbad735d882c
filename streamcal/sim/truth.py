"""The truth of a simulated exposure: what stage 1 should recover, and the ``_truth.fits`` file."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits
from astropy.table import Table

from .ramps import CosmicRay, group_of_frame


@dataclass
class ExposureTruth:
    """What a simulated exposure was made from.

    Attributes
    ----------
    rate_dn : ndarray, float32, (ny, nx)
        Sky + sources, DN/s: what stage 1's ``rate`` should read (dark excluded).  Reference
        and dead pixels are 0.
    rate_e : ndarray, float32, (ny, nx)
        The same in e-/s (before the gain).
    dark_dn : ndarray, float32, (ny, nx)
        Dark current put in, DN/s (the pipeline subtracts it).
    gain : ndarray, float32, (ny, nx)
        Gain used, e/DN.
    first_saturated : ndarray, int16, (nints, ny, nx)
        First group at or above the saturation threshold, -1 if none.
    sources : astropy Table
        ra, dec (deg), x, y (0-based pixels of this exposure), flux_e (e-/s), kind, shape.
    cosmic_rays : list of CosmicRay
    jump_groups : ndarray, bool, (nints, ngroups, ny, nx)
        Groups jwst should flag JUMP_DET for the injected hits.
    pointing_cards : dict
        The true pointing and the injected pointing error (TRA_REF, TDEC_REF, TROLLREF,
        PERR_E, PERR_N, PERR_ROL: :meth:`streamcal.sim.pointing.ExposurePointing.error_cards`),
        written into the truth file's primary header.
    """

    rate_dn: np.ndarray
    rate_e: np.ndarray
    dark_dn: np.ndarray
    gain: np.ndarray
    first_saturated: np.ndarray
    sources: Table
    cosmic_rays: list[CosmicRay] = field(default_factory=list)
    jump_groups: np.ndarray | None = None
    pointing_cards: dict = field(default_factory=dict)

    def to_hdulist(self, uncal_name: str, nframes: int, groupgap: int) -> fits.HDUList:
        """A ``_truth.fits`` file: RATE, RATE_E, DARK, GAIN, FIRSTSAT images, COSMICS and
        SOURCES tables."""
        primary = fits.PrimaryHDU()
        primary.header["TRUTHFOR"] = (uncal_name, "raw file")
        primary.header["NCOSMIC"] = len(self.cosmic_rays)
        for key, value in self.pointing_cards.items():
            primary.header[key] = value
        images = [fits.ImageHDU(self.rate_dn, name="RATE"), fits.ImageHDU(self.rate_e, name="RATE_E"),
                  fits.ImageHDU(self.dark_dn, name="DARK"), fits.ImageHDU(self.gain, name="GAIN"),
                  fits.ImageHDU(self.first_saturated, name="FIRSTSAT")]
        for hdu, unit in zip(images, ("DN/s", "electron/s", "DN/s", "electron/DN", "")):
            if unit:
                hdu.header["BUNIT"] = unit
        sources = fits.table_to_hdu(self.sources)
        sources.name = "SOURCES"
        return fits.HDUList([primary, *images, self._cosmics_hdu(nframes, groupgap), sources])

    def _cosmics_hdu(self, nframes: int, groupgap: int) -> fits.BinTableHDU:
        crs = self.cosmic_rays
        hdu = fits.BinTableHDU.from_columns([
            fits.Column("integration", "J", array=[c.integration for c in crs]),
            fits.Column("frame", "J", array=[c.frame for c in crs]),
            fits.Column("group", "J", array=[group_of_frame(c.frame, nframes, groupgap) for c in crs]),
            fits.Column("y", "J", array=[c.y for c in crs]), fits.Column("x", "J", array=[c.x for c in crs]),
            fits.Column("electrons", "D", array=[c.electrons for c in crs])], name="COSMICS")
        return hdu
