"""Error classes: the service tells bad input (quarantine, never retry) from everything else."""


class StreamcalError(Exception):
    """Base class of streamcal's own errors."""


class BadInputError(StreamcalError, ValueError):
    """The input file itself is unusable: corrupt, truncated, not FITS, missing keywords, ...

    Parameters
    ----------
    path : str
        The file that was rejected.
    check : str
        Short name of the check that failed (``"fits"``, ``"keywords"``, ``"shape"``, ...).
    reason : str
        One line saying what is wrong.
    """

    def __init__(self, path: str, check: str, reason: str):
        self.path = str(path)
        self.check = check
        self.reason = reason
        super().__init__(f"{self.path}: {reason} [{check}]")


class UnknownExposureTypeError(BadInputError):
    """EXP_TYPE is missing or not in the routing table."""


class NotImplementedStepError(StreamcalError, NotImplementedError):
    """A step or pipeline that streamcal does not implement yet; data are never passed through."""


class ReferenceFileError(StreamcalError):
    """A reference file needed by a step is missing or unreadable."""
