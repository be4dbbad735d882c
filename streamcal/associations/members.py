"""Member names and the member record shared by associations and their finalization."""

from __future__ import annotations

import re

_UNCAL = re.compile(r"(?P<path>.+)(?P<type>_uncal)(?P<extension>\..+)")
_SUFFIXES = ("uncal rate rateints cal calints x1d x1dints i2d s2d s3d crf crfints bsub bsubints "
             "ramp dark trapsfilled cat segm c1d psfstack psfalign psfsub ami amiavg aminorm "
             "whtlt phot median").split()
_ROOT = re.compile(r"^(?P<root>.+?)([_-](" + "|".join(_SUFFIXES) + "))?$")


def remove_suffix(name: str) -> str:
    """The file root without a known pipeline suffix."""
    return _ROOT.match(name).group("root")


def level2_name(filename: str, suffix: str, ints: bool) -> str:
    """``..._uncal.fits`` -> ``..._<suffix>[ints].fits``; other names unchanged."""
    m = _UNCAL.match(filename)
    if m is None:
        return filename
    return f"{m.group('path')}_{suffix}{'ints' if ints else ''}{m.group('extension')}"


def dash(text: str) -> str:
    """``-text`` for optional product-name parts, '' when empty."""
    return "-" + text if text else ""


class Member(dict):
    """An ASN member; ``item`` is the pool row it came from (not serialized)."""

    def __init__(self, data, item=None):
        super().__init__(data)
        self.item = dict(item) if item is not None else None

    def same(self, other) -> bool:
        return self["expname"] == other["expname"] and self["exptype"] == other["exptype"]

    def but(self, **changes) -> "Member":
        """A copy with some fields changed (same pool row)."""
        new = Member(dict(self), self.item)
        new.update(changes)
        return new
