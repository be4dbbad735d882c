"""Provenance: what made a product, carried in every product's header.

Primary-header keywords written by :func:`apply_to_header`:

``SC_VER``  streamcal version;  ``SC_INPUT`` input file name;  ``SC_INSHA`` its SHA-256;
``SC_PIPE`` pipeline name;  ``S_<step>`` COMPLETE/SKIPPED per step (jwst's cal_step names);
``R_<reftype>`` reference file used per type.  The full record — every step with its
parameters and reference files — goes to a ``PROVENANCE`` table extension.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from astropy.io import fits

from . import __version__

#: jwst ``R_*`` header keyword per reference-file type.
REFTYPE_KEYWORDS = {
    "mask": "R_MASK", "saturation": "R_SATURA", "superbias": "R_SUPERB",
    "linearity": "R_LINEAR", "dark": "R_DARK", "gain": "R_GAIN", "readnoise": "R_READNO",
    "ipc": "R_IPC", "refpix": "R_REFPIX", "rscd": "R_RSCD", "reset": "R_RESET",
    "flat": "R_FLAT", "sirskernel": "R_SIRSKN", "persat": "R_PERSAT",
}


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class StepRecord:
    """One step as run (or skipped) on one exposure."""

    name: str
    status: str
    status_keyword: str
    parameters: dict[str, Any] = field(default_factory=dict)
    reffiles: dict[str, str] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0


@dataclass
class Provenance:
    """Accumulated provenance of one pipeline run."""

    pipeline: str
    input_name: str
    input_sha256: str
    version: str = __version__
    steps: list[StepRecord] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    def apply_to_header(self, header: fits.Header) -> None:
        """Write the keyword form of this record into a primary header (in place)."""
        header["SC_VER"] = (self.version, "streamcal version")
        header["SC_PIPE"] = (self.pipeline, "streamcal pipeline")
        # long values: no comment, so astropy need not truncate anything
        header["SC_INPUT"] = self.input_name
        header["SC_INSHA"] = self.input_sha256
        for step in self.steps:
            header[step.status_keyword] = (step.status, f"{step.name} step status")
            for reftype, name in step.reffiles.items():
                key = REFTYPE_KEYWORDS.get(reftype, f"R_{reftype[:6].upper()}")
                header[key] = Path(name).name[:68]

    def table_hdu(self) -> fits.BinTableHDU:
        """The ``PROVENANCE`` extension: one row per step."""
        rows = self.steps or [StepRecord("none", "NONE", "")]
        cols = [
            fits.Column("STEP", "A24", array=[s.name for s in rows]),
            fits.Column("STATUS", "A10", array=[s.status for s in rows]),
            fits.Column("SECONDS", "E", array=[s.seconds for s in rows]),
            fits.Column("PARAMETERS", "A1024", array=[json.dumps(s.parameters, default=str) for s in rows]),
            fits.Column("REFFILES", "A1024", array=[json.dumps(s.reffiles) for s in rows]),
            fits.Column("NOTE", "A1024", array=[s.note for s in rows]),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name="PROVENANCE")
        hdu.header["SC_VER"] = self.version
        hdu.header["SC_INPUT"] = self.input_name
        hdu.header["SC_INSHA"] = self.input_sha256
        return hdu
