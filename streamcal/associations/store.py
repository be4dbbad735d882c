"""Association state in the ledger: the stream's association buffer kept in tables of the
ledger's SQLite database, changed inside the caller's ledger transaction.

:class:`AssociationStore` is :class:`~streamcal.associations.buffer.AssociationBuffer` on
:class:`SqlState`.  Every call runs in :meth:`streamcal.ledger.Ledger.batch` (joining the
caller's batch when there is one) and in a savepoint of its own: a call that raises undoes
only itself, and nothing it changed is committed before the caller's transaction is, so a
firing and the ledger's record of it (``fire_association``) commit together or not at all.
A new store on the same ledger file resumes where the last one stopped.

Tables (created here, ``asn_`` prefix; JSON text where a value is a list or an ASN):
``asn_members`` (exposure root -> ``_cal`` path, ledger file id, exposures per detector),
``asn_rows`` (the pool row of each (program, root), its bucket and arrival number),
``asn_buckets`` (the ASN_CANDIDATE texts of each program), ``asn_candidates`` (one per
level-3 product) and ``asn_candidate_roots`` (which roots a candidate expects or last fired
with, the indexes behind :meth:`SqlState.expecting` and :meth:`SqlState.fired_with`).  Every
statement is a keyed lookup, so the work per product does not grow with history.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath

from .buffer import NOT_FIRED, SOURCE_ASN, AssociationBuffer, Candidate, Firing, Member, exposure_root

__all__ = ["AssociationStore", "SqlState", "StoreSummary"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS asn_members (root TEXT PRIMARY KEY, path TEXT NOT NULL, "
    "per_detector INTEGER NOT NULL, file_id INTEGER)",
    "CREATE TABLE IF NOT EXISTS asn_rows (program TEXT NOT NULL, root TEXT NOT NULL, bucket TEXT NOT NULL, "
    "seq INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (program, root))",
    "CREATE INDEX IF NOT EXISTS asn_rows_bucket ON asn_rows(program, bucket)",
    "CREATE INDEX IF NOT EXISTS asn_rows_seq ON asn_rows(seq)",
    "CREATE TABLE IF NOT EXISTS asn_buckets (id INTEGER PRIMARY KEY, program TEXT NOT NULL, "
    "bucket TEXT NOT NULL, UNIQUE (program, bucket))",
    "CREATE TABLE IF NOT EXISTS asn_candidates (id INTEGER PRIMARY KEY, product TEXT NOT NULL UNIQUE, "
    "source TEXT NOT NULL, expected_roots TEXT NOT NULL, expected_count INTEGER NOT NULL, "
    "have TEXT NOT NULL, since REAL NOT NULL, fired TEXT NOT NULL, fired_with TEXT NOT NULL, asn TEXT)",
    "CREATE INDEX IF NOT EXISTS asn_candidates_fired ON asn_candidates(fired)",
    "CREATE TABLE IF NOT EXISTS asn_candidate_roots (root TEXT NOT NULL, role TEXT NOT NULL, "
    "product TEXT NOT NULL, PRIMARY KEY (root, role, product))",
    "CREATE INDEX IF NOT EXISTS asn_candidate_roots_product ON asn_candidate_roots(product)",
)
_EXPECTED, _FIRED = "expected", "fired"


@dataclass(frozen=True)
class StoreSummary:
    """Counts for ``streamcal status``.

    Attributes
    ----------
    members : int
        Level-2 products held.
    waiting, partial, complete : int
        Candidates not fired yet, last fired partial, last fired complete.
    oldest_waiting_since : float or None
        Clock time (s, the store's clock) the oldest unfired candidate was first seen.
    """

    members: int
    waiting: int
    partial: int
    complete: int
    oldest_waiting_since: float | None


class SqlState:
    """:class:`~streamcal.associations.buffer.AssociationState` in the ledger's tables.

    Parameters
    ----------
    db : sqlite3.Connection
        The ledger's connection (rows as :class:`sqlite3.Row`); the caller holds its batch.
    """

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def create(self) -> None:
        """Create the tables when absent."""
        for statement in _SCHEMA:
            self._db.execute(statement)

    def member(self, root: str) -> Member | None:
        row = self._db.execute("SELECT root, path, per_detector, file_id FROM asn_members WHERE root=?",
                               (root,)).fetchone()
        return None if row is None else Member(**dict(row))

    def put_member(self, member: Member) -> None:
        self._db.execute("INSERT INTO asn_members(root, path, per_detector, file_id) VALUES (?,?,?,?) "
                         "ON CONFLICT(root) DO UPDATE SET path=excluded.path, "
                         "per_detector=excluded.per_detector, file_id=excluded.file_id",
                         (member.root, member.path, member.per_detector, member.file_id))

    def put_row(self, program: str, root: str, bucket: str, row: dict) -> str | None:
        old = self._db.execute("SELECT bucket FROM asn_rows WHERE program=? AND root=?",
                               (program, root)).fetchone()
        seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM asn_rows").fetchone()[0]
        self._db.execute("INSERT OR REPLACE INTO asn_rows(program, root, bucket, seq, row) VALUES (?,?,?,?,?)",
                         (program, root, bucket, seq, json.dumps(row)))
        self._db.execute("INSERT OR IGNORE INTO asn_buckets(program, bucket) VALUES (?,?)", (program, bucket))
        return None if old is None else old["bucket"]

    def buckets(self, program: str) -> list[str]:
        rows = self._db.execute("SELECT bucket FROM asn_buckets WHERE program=? ORDER BY id", (program,))
        return [r["bucket"] for r in rows]

    def rows(self, program: str, buckets: Iterable[str]) -> list[dict]:
        buckets = list(buckets)
        marks = ",".join("?" * len(buckets))
        found = self._db.execute(f"SELECT row FROM asn_rows WHERE program=? AND bucket IN ({marks}) ORDER BY seq",
                                 (program, *buckets))
        return [json.loads(r["row"]) for r in found]

    def candidate(self, product: str) -> Candidate | None:
        row = self._db.execute("SELECT * FROM asn_candidates WHERE product=?", (product,)).fetchone()
        return None if row is None else _candidate(row)

    def put_candidate(self, cand: Candidate) -> None:
        self._db.execute(
            "INSERT INTO asn_candidates(product, source, expected_roots, expected_count, have, since, fired, "
            "fired_with, asn) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(product) DO UPDATE SET "
            "source=excluded.source, expected_roots=excluded.expected_roots, "
            "expected_count=excluded.expected_count, have=excluded.have, since=excluded.since, "
            "fired=excluded.fired, fired_with=excluded.fired_with, asn=excluded.asn",
            (cand.product, cand.source, json.dumps(cand.expected_roots), cand.expected_count,
             json.dumps(cand.have), cand.since, cand.fired, json.dumps(cand.fired_with),
             None if cand.asn is None else json.dumps(cand.asn)))
        self._db.execute("DELETE FROM asn_candidate_roots WHERE product=?", (cand.product,))
        expected = cand.expected_roots if cand.source == SOURCE_ASN else ()
        roles = [(r, _EXPECTED, cand.product) for r in expected]
        roles += [(r, _FIRED, cand.product) for r in cand.fired_with]
        self._db.executemany("INSERT OR IGNORE INTO asn_candidate_roots(root, role, product) VALUES (?,?,?)",
                             roles)

    def expecting(self, root: str) -> set[str]:
        return self._products_with(root, _EXPECTED)

    def fired_with(self, root: str) -> set[str]:
        return self._products_with(root, _FIRED)

    def _products_with(self, root: str, role: str) -> set[str]:
        rows = self._db.execute("SELECT product FROM asn_candidate_roots WHERE root=? AND role=?", (root, role))
        return {r["product"] for r in rows}

    def unfired(self) -> list[Candidate]:
        rows = self._db.execute("SELECT * FROM asn_candidates WHERE fired=? ORDER BY id", (NOT_FIRED,))
        return [_candidate(r) for r in rows]

    def candidates(self) -> list[Candidate]:
        return [_candidate(r) for r in self._db.execute("SELECT * FROM asn_candidates ORDER BY id")]

    def summary(self) -> StoreSummary:
        """Counts of members and of candidates per firing state."""
        fired = {r["fired"]: r["n"] for r in self._db.execute(
            "SELECT fired, COUNT(*) AS n FROM asn_candidates GROUP BY fired")}
        oldest = self._db.execute("SELECT MIN(since) FROM asn_candidates WHERE fired=?",
                                  (NOT_FIRED,)).fetchone()[0]
        members = self._db.execute("SELECT COUNT(*) FROM asn_members").fetchone()[0]
        return StoreSummary(members=members, waiting=fired.get(NOT_FIRED, 0), partial=fired.get("partial", 0),
                            complete=fired.get("complete", 0), oldest_waiting_since=oldest)


def _candidate(row: sqlite3.Row) -> Candidate:
    return Candidate(product=row["product"], source=row["source"],
                     expected_roots=tuple(json.loads(row["expected_roots"])),
                     expected_count=row["expected_count"], have=tuple(json.loads(row["have"])),
                     since=row["since"], fired=row["fired"], fired_with=tuple(json.loads(row["fired_with"])),
                     asn=None if row["asn"] is None else json.loads(row["asn"]))


class AssociationStore:
    """The association buffer with its state in the ledger (see the module docstring).

    Parameters
    ----------
    ledger : streamcal.ledger.Ledger
        Whose database holds the state; its owner calls the store (the ledger actor).
    late_member_timeout : float
        Seconds a candidate waits for missing members, from its first member, before it
        fires partial.
    clock : callable
        Seconds since the epoch (a wall clock: the state outlives the process).
    """

    def __init__(self, ledger, late_member_timeout: float = 600.0, clock: Callable[[], float] = time.time):
        self._ledger = ledger
        self._state = SqlState(ledger.connection)
        self._buffer = AssociationBuffer(late_member_timeout, clock, self._state)
        with self._atomic():
            self._state.create()

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """The caller's ledger batch (or one of its own), and a savepoint so that a call that
        raises leaves no half-made change in the caller's transaction."""
        with self._ledger.batch():
            db = self._ledger.connection
            db.execute("SAVEPOINT association_store")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK TO association_store")
                raise
            finally:
                db.execute("RELEASE association_store")

    def add_member(self, file_id: int, cal_path: str, header, replaced: bool | None = None) -> list[Firing]:
        """A member's level-2 product (``_cal``) is on disk.

        Parameters
        ----------
        file_id : int
            The ledger id of the exposure it was made from.
        cal_path : str
            Path of the ``_cal`` file.
        header : mapping
            Its primary header (``astropy.io.fits.Header`` or dict).
        replaced : bool, optional
            It is new content of an exposure already held, so products made with the old
            content are remade; by default, true when the exposure was held under another
            file id.

        Returns
        -------
        list of Firing
            What to (re)make now, each with ``member_ids``.
        """
        with self._atomic():
            if replaced is None:
                held = self._state.member(exposure_root(PurePath(cal_path).name))
                replaced = held is not None and held.file_id not in (None, int(file_id))
            return self._buffer.add(str(cal_path), header, replaced=replaced, file_id=int(file_id))

    def add_asn(self, asn: dict) -> list[Firing]:
        """An ASN file landed (its dict, as :func:`~streamcal.associations.read_asn` returns
        it): its members become the expected ones."""
        with self._atomic():
            return self._buffer.add_asn(asn)

    def expire(self, now: float | None = None) -> list[Firing]:
        """Fire, partial, the candidates whose late-member timeout has passed at ``now``
        (seconds; the clock's time by default)."""
        with self._atomic():
            return self._buffer.expire(now)

    def refire(self, product: str) -> Firing | None:
        """Fire ``product`` again with the members it has now (the flow asks when a remake was
        requested while the product was being made); None when it has no members."""
        with self._atomic():
            return self._buffer.refire(product)

    def candidate(self, product: str) -> Candidate | None:
        """The candidate of ``product``, or None."""
        with self._atomic():
            return self._state.candidate(product)

    def candidates(self) -> list[Candidate]:
        """Every candidate, oldest first."""
        with self._atomic():
            return self._state.candidates()

    def summary(self) -> StoreSummary:
        """Counts for ``streamcal status``."""
        with self._atomic():
            return self._state.summary()
