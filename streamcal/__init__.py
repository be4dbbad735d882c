"""streamcal: calibrate JWST exposures the moment they land."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamcal")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0+src"

__all__ = ["__version__"]
