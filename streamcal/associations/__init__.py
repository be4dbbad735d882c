"""Associations: which exposures are processed together (jwst's association generator rules,
the ASN JSON format, the stream's association buffer and its state in the ledger)."""

from .asn import AsnError, read_asn, resolve_member, validate, write_asn
from .buffer import AssociationBuffer, Candidate, Firing
from .generator import Options, associations_from_pool, generate_pool
from .pool import pool_row, read_pool
from .store import AssociationStore, StoreSummary
from .writer import write_firing_asn

__all__ = ["AsnError", "AssociationBuffer", "AssociationStore", "Candidate", "Firing", "Options",
           "StoreSummary", "associations_from_pool", "generate_pool", "pool_row", "read_asn",
           "read_pool", "resolve_member", "validate", "write_asn", "write_firing_asn"]
