"""Simulator of raw JWST exposures, consistent with the synthetic reference set.

- :mod:`streamcal.sim.ramps` -- up-the-ramp charge in electrons (Poisson, read noise, cosmic rays);
- :mod:`streamcal.sim.scene` -- sources, sky, rendering;
- :mod:`streamcal.sim.pointing` -- header and true pointing, the exposure's WCS (distortion);
- :mod:`streamcal.sim.electronics` -- electrons to raw DN (non-linearity, bias, drifts, ADC);
- :mod:`streamcal.sim.transit` -- a planet transiting a time-series target (trapezoid light curve);
- :mod:`streamcal.sim.spectra` -- MIRI LRS fixed-slit (nod pairs) and slitless scenes through the
  pipeline's trace model, with the truth spectrum;
- :mod:`streamcal.sim.exposure` -- one ``_uncal.fits`` with its truth;
- :mod:`streamcal.sim.program` -- dither sequences (a star field with pointing errors:
  ``simulate_dither``) and a small observing program.
"""

from .exposure import (ExposureConfig, ExposureTruth, SimulatedExposure, simulate_exposure,
                       write_exposure)
from .program import DitherResult, simulate_dither, simulate_program, simulate_to_directory
from .spectra import SourceSpectrum, SpectrumTruth, nod_pair, read_spectrum_truth
from .transit import Transit
from .truth import TransitTruth, read_transit_truth

__all__ = ["ExposureConfig", "ExposureTruth", "SimulatedExposure", "simulate_exposure", "write_exposure",
           "simulate_program", "simulate_to_directory", "simulate_dither", "DitherResult",
           "Transit", "TransitTruth", "read_transit_truth", "SourceSpectrum", "SpectrumTruth", "nod_pair",
           "read_spectrum_truth"]
