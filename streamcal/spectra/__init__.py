"""Spectra: the data model of extracted spectra and 2-D spectral images, their jwst-layout FITS
products and their Parquet rows (:mod:`.model`, :mod:`.slit`, :mod:`.io`, :mod:`.parquet`)."""

from .io import (SlitProduct, SpectraProduct, read_c1d, read_multislit, read_slit, read_wfss_x1d, read_x1d,
                 read_x1dints, write_c1d, write_multislit, write_slit, write_wfss_x1d, write_x1d, write_x1dints)
from .model import (COMBINED_COLUMNS, SPEC_COLUMNS, CombinedSpectrum, Spectrum, SpectrumMeta, TSOSpectra,
                    WFSSSpectra, spectral_units)
from .parquet import SPECTRA_SCHEMA, spectrum_rows, tso_rows
from .slit import SlitImage
from .times import integration_times

__all__ = ["SlitProduct", "SpectraProduct", "read_c1d", "read_multislit", "read_slit", "read_wfss_x1d",
           "read_x1d", "read_x1dints", "write_c1d", "write_multislit", "write_slit", "write_wfss_x1d",
           "write_x1d", "write_x1dints", "COMBINED_COLUMNS", "SPEC_COLUMNS", "CombinedSpectrum", "Spectrum",
           "SpectrumMeta", "TSOSpectra", "WFSSSpectra", "spectral_units", "SPECTRA_SCHEMA", "spectrum_rows",
           "tso_rows", "SlitImage", "integration_times"]
