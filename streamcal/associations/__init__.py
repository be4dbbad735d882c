"""Associations: which exposures are processed together (jwst's association generator rules,
the ASN JSON format, and the stream's association buffer)."""

from .asn import AsnError, read_asn, resolve_member, validate, write_asn
from .buffer import AssociationBuffer, Firing
from .generator import Options, associations_from_pool, generate_pool
from .pool import pool_row, read_pool

__all__ = ["AsnError", "AssociationBuffer", "Firing", "Options", "associations_from_pool",
           "generate_pool", "pool_row", "read_asn", "read_pool", "resolve_member", "validate",
           "write_asn"]
