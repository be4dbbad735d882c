"""Imaging world coordinates: pointing keywords, the gwcs jwst's assign_wcs builds
(detector -> v2v3 -> v2v3vacorr -> world), ASDF serialisation."""

from .build import (detector_offset, frames, ideal_to_v2v3, imaging_wcs, linear_distortion, set_shape,
                    v2v3_to_sky, velocity_aberration)
from .exposure import (exposure_wcs, filter_offset, footprint_corners, replace_wcs_cards, s_region, sip_cards,
                       sip_shortfall, valid_area)
from .pointing import MissingPointingError, Pointing, pointing_from_header
from .serialize import wcs_from_asdf_bytes, wcs_to_asdf_bytes

__all__ = ["Pointing", "pointing_from_header", "MissingPointingError", "imaging_wcs", "frames",
           "v2v3_to_sky", "velocity_aberration", "ideal_to_v2v3", "linear_distortion", "detector_offset",
           "set_shape", "wcs_to_asdf_bytes", "wcs_from_asdf_bytes", "exposure_wcs", "filter_offset",
           "sip_cards", "sip_shortfall", "replace_wcs_cards", "s_region", "footprint_corners", "valid_area"]
