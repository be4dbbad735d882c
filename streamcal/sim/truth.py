"""The truth of a simulated exposure: what stage 1 should recover, and the ``_truth.fits`` file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from .ramps import CosmicRay, group_of_frame
from .spectra import SpectrumTruth


@dataclass
class TransitTruth:
    """The transit of the target star in a time-series exposure (:mod:`streamcal.sim.transit`).

    Attributes
    ----------
    depth : float
        Fractional flux loss at mid-transit.
    mid_s, duration_s, ingress_s : float
        Mid-transit (s from the exposure start), first to fourth contact and first to second
        contact, s.
    mid_mjd : float
        Mid-transit, MJD (UTC, the INT_TIMES scale).
    int_mid_mjd : ndarray, float64, (nints,)
        Mid-times of the integrations, MJD UTC (= INT_TIMES int_mid_MJD_UTC).
    relative_flux : ndarray, float64, (nints,)
        Target flux in each integration relative to out of transit: the light curve's mean
        over the integration's collecting time (reset to last read).
    target_rate_dn : ndarray, float32, (ny, nx)
        The target's own out-of-transit rate, DN/s (part of ``ExposureTruth.rate_dn``): the
        rate of integration ``i`` is ``rate_dn + target_rate_dn * (relative_flux[i] - 1)``.
    target_flux_e : float
        Out-of-transit target rate, e-/s (total, before flat and dead pixels).
    target_x, target_y : float
        0-based pixel position of the target (true WCS).
    """

    depth: float
    mid_s: float
    duration_s: float
    ingress_s: float
    mid_mjd: float
    int_mid_mjd: np.ndarray
    relative_flux: np.ndarray
    target_rate_dn: np.ndarray
    target_flux_e: float
    target_x: float
    target_y: float

    def rate_dn(self, rate_dn: np.ndarray, integration: int) -> np.ndarray:
        """Sky + sources rate of one integration (0-based), DN/s, from the exposure's
        out-of-transit ``rate_dn``."""
        return rate_dn + self.target_rate_dn * np.float32(self.relative_flux[integration] - 1.0)

    def to_hdus(self) -> list:
        """TRANSIT table (integration_number, int_mid_MJD_UTC, relative_flux; the transit in
        its header: TDEPTH, TMID, TMID_MJD, TDUR, TINGRESS, TFLUX_E, TARG_X, TARG_Y) and TARGET
        image (``target_rate_dn``, DN/s)."""
        table = fits.BinTableHDU.from_columns([
            fits.Column("integration_number", "J", array=np.arange(1, len(self.relative_flux) + 1)),
            fits.Column("int_mid_MJD_UTC", "D", array=self.int_mid_mjd),
            fits.Column("relative_flux", "D", array=self.relative_flux)], name="TRANSIT")
        for key, value, comment in _TRANSIT_CARDS:
            table.header[key] = (float(getattr(self, value)), comment)
        image = fits.ImageHDU(self.target_rate_dn, name="TARGET")
        image.header["BUNIT"] = "DN/s"
        return [table, image]

    @classmethod
    def from_hdulist(cls, hdul: fits.HDUList) -> TransitTruth | None:
        """Read back from a ``_truth.fits`` HDU list; None when it has no transit."""
        if "TRANSIT" not in hdul:
            return None
        table = hdul["TRANSIT"]
        cards = {value: float(table.header[key]) for key, value, _ in _TRANSIT_CARDS}
        return cls(**cards, int_mid_mjd=np.array(table.data["int_mid_MJD_UTC"], np.float64),
                   relative_flux=np.array(table.data["relative_flux"], np.float64),
                   target_rate_dn=np.array(hdul["TARGET"].data, np.float32))


#: (header keyword, TransitTruth attribute, comment) of the TRANSIT table.
_TRANSIT_CARDS = (("TDEPTH", "depth", "fractional depth at mid-transit"),
                  ("TMID", "mid_s", "[s] mid-transit from the exposure start"),
                  ("TMID_MJD", "mid_mjd", "[d] mid-transit, MJD UTC"),
                  ("TDUR", "duration_s", "[s] first to fourth contact"),
                  ("TINGRESS", "ingress_s", "[s] first to second contact"),
                  ("TFLUX_E", "target_flux_e", "[e-/s] out-of-transit target rate"),
                  ("TARG_X", "target_x", "[pix] 0-based target x"),
                  ("TARG_Y", "target_y", "[pix] 0-based target y"))


def read_transit_truth(path: str | Path) -> TransitTruth | None:
    """The transit truth of a ``_truth.fits`` file; None when the exposure has no transit."""
    with fits.open(path) as hdul:
        return TransitTruth.from_hdulist(hdul)


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
    transit : TransitTruth, optional
        The target's transit (``transit_depth > 0``); then ``rate_dn`` and ``rate_e`` are the
        out-of-transit rates.
    spectrum : SpectrumTruth, optional
        MIRI LRS: the point source's spectrum and own rate (:mod:`streamcal.sim.spectra`).
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
    transit: TransitTruth | None = None
    spectrum: SpectrumTruth | None = None

    def to_hdulist(self, uncal_name: str, nframes: int, groupgap: int) -> fits.HDUList:
        """A ``_truth.fits`` file: RATE, RATE_E, DARK, GAIN, FIRSTSAT images, COSMICS and
        SOURCES tables; with a transit also TRANSIT and TARGET (:meth:`TransitTruth.to_hdus`);
        with a spectrum SPECTRUM and SOURCE (:meth:`SpectrumTruth.to_hdus`)."""
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
        extra = self.transit.to_hdus() if self.transit is not None else []
        extra += self.spectrum.to_hdus() if self.spectrum is not None else []
        return fits.HDUList([primary, *images, self._cosmics_hdu(nframes, groupgap), sources, *extra])

    def _cosmics_hdu(self, nframes: int, groupgap: int) -> fits.BinTableHDU:
        crs = self.cosmic_rays
        hdu = fits.BinTableHDU.from_columns([
            fits.Column("integration", "J", array=[c.integration for c in crs]),
            fits.Column("frame", "J", array=[c.frame for c in crs]),
            fits.Column("group", "J", array=[group_of_frame(c.frame, nframes, groupgap) for c in crs]),
            fits.Column("y", "J", array=[c.y for c in crs]), fits.Column("x", "J", array=[c.x for c in crs]),
            fits.Column("electrons", "D", array=[c.electrons for c in crs])], name="COSMICS")
        return hdu
