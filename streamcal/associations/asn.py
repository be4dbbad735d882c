"""ASN JSON files: build, name, write (atomically), read with schema checks, and resolve
member paths safely.

Format (jwst_spec §6.1, the jwst level-2b/level-3 schemas): a JSON object with ``products``,
each product with ``members``, each member with ``expname`` and ``exptype`` (strings);
everything else is optional metadata.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import StreamcalError

ASN_NAME = "jw{program}-{acid}_{type}_{sequence:05d}_asn.json"
_MEMBER_KEYS = ("expname", "exptype", "exposerr", "asn_candidate")


class AsnError(StreamcalError, ValueError):
    """An ASN file is malformed or a member path is not allowed."""


def asn_filename(data: dict, sequence: int) -> str:
    """The generator's file name, e.g. ``jw99009-o001_image3_00001_asn.json``."""
    return ASN_NAME.format(program=data["program"], acid=data["asn_id"], type=data["asn_type"],
                           sequence=sequence).lower()


def to_dict(asn) -> dict:
    """Plain JSON-able dict of an association (members without their pool rows)."""
    data = {k: v for k, v in asn.data.items() if k != "products"}
    data["products"] = [{"name": p["name"],
                         "members": [{k: m[k] for k in _MEMBER_KEYS if k in m}
                                     for m in p["members"]]}
                        for p in asn.products]
    return data


def dumps(data: dict) -> str:
    return json.dumps(data, indent=4, separators=(",", ": "))


def write_asn(data: dict, path) -> Path:
    """Validate and write ``data`` to ``path`` via a temporary file and an atomic rename."""
    validate(data, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps(data) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def loads(text: str, source: str = "<string>") -> dict:
    """Parse and validate ASN JSON (strict JSON: no trailing commas, no NaN)."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as err:
        raise AsnError(f"{source}: not valid JSON ({err})") from None
    validate(data, source)
    return data


def read_asn(path) -> dict:
    """Read and validate an ASN file."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise AsnError(f"{path}: cannot read ({err})") from None
    return loads(text, str(path))


def validate(data, source: str = "<asn>") -> None:
    """Schema checks: products -> members -> expname/exptype strings; raises AsnError."""
    if not isinstance(data, dict):
        raise AsnError(f"{source}: top level must be a JSON object")
    products = data.get("products")
    if not isinstance(products, list) or not products:
        raise AsnError(f"{source}: 'products' must be a non-empty list")
    for i, product in enumerate(products):
        members = product.get("members") if isinstance(product, dict) else None
        if not isinstance(members, list):
            raise AsnError(f"{source}: product {i} has no 'members' list")
        for j, member in enumerate(members):
            if not isinstance(member, dict):
                raise AsnError(f"{source}: product {i} member {j} is not an object")
            for key in ("expname", "exptype"):
                if not isinstance(member.get(key), str) or not member[key]:
                    raise AsnError(f"{source}: product {i} member {j} lacks a string '{key}'")


def resolve_member(asn_path, expname: str, allowed_roots) -> Path:
    """The file a member names, relative to the ASN file's directory.

    Refuses absolute paths, and any path that (after ``..`` and symlinks are resolved) lies
    outside every directory of ``allowed_roots``.
    """
    name = Path(expname)
    if name.is_absolute() or expname.startswith(("/", "\\")) or (len(expname) > 1 and expname[1] == ":"):
        raise AsnError(f"member {expname!r}: absolute paths are not allowed")
    target = (Path(asn_path).resolve().parent / name).resolve()
    roots = [Path(r).resolve() for r in allowed_roots]
    if not any(target == r or target.is_relative_to(r) for r in roots):
        raise AsnError(f"member {expname!r} resolves to {target}, outside the allowed "
                       f"directories {[str(r) for r in roots]}")
    return target


def members(data: dict, exptype: str | None = None) -> list[str]:
    """Member expnames of every product (optionally only one exptype)."""
    return [m["expname"] for p in data["products"] for m in p["members"]
            if exptype is None or m["exptype"].lower() == exptype]
