"""The ledger: durable state of every landed file, its products and its history (SQLite, WAL).

One row per file (``files``), per other name of the same content (``aliases``), per product
(``products``) and per event (``events``, append-only).  Every method that changes anything is
one transaction, committed before it returns: a caller that hands work on *after* the call
returns can never hand on work the ledger does not know about.

Durability
----------
``journal_mode=WAL`` lets readers (``streamcal status``, tests) read while the one writer
writes.  ``synchronous=FULL`` (the default) fsyncs the WAL at every commit, so a committed
transition survives a power loss or kernel crash too, not only a crash of the process
(``NORMAL`` in WAL mode survives a process crash but can lose the last commits on power loss).
The cost is one fsync per transition — measured 0.4 ms per transaction (0.12 ms with NORMAL)
on the CI-class machine's disk, about 2 ms per exposure's five transitions — against seconds of
calibration per exposure.  Pass ``synchronous="NORMAL"`` where that trade is wrong (tests on slow disks).

Threads
-------
A :class:`Ledger` is meant to be owned by one writer (the ledger actor).  Its one connection
is guarded by a lock, so calls from several threads of that owner (a threaded actor, a
watchdog callback) are serialised rather than interleaved: each method runs whole, alone.
Other ``Ledger`` objects, in this or other processes, may open the same file (readers never
block in WAL mode; a second writer waits on SQLite's lock, ``busy_timeout`` 10 s).

States
------
``landed → routed → stage1 → stage2 → waiting_association → stage3 → done``; a route without
stage 2 or 3 goes to ``done`` early; any non-terminal state can go to ``failed`` or
``quarantined``; ``failed → landed`` is the one way back (an operator's retry).  ``done``,
``failed`` and ``quarantined`` are terminal: :meth:`Ledger.in_flight` lists everything else.

API
---
Writes: :meth:`~Ledger.record_landed` (dedupe by content), :meth:`~Ledger.transition`,
:meth:`~Ledger.transition_many` and :meth:`~Ledger.batch` (several writes, one commit),
:meth:`~Ledger.start_attempt`, :meth:`~Ledger.record_product` (idempotent by path).
Stage 3 (one row per association product): :meth:`~Ledger.fire_association`,
:meth:`~Ledger.start_association`, :meth:`~Ledger.end_association`, :meth:`~Ledger.associations`.
Reads: :meth:`~Ledger.get`, :meth:`~Ledger.by_path`, :meth:`~Ledger.by_sha256`,
:meth:`~Ledger.in_flight` (what to resume), :meth:`~Ledger.known_paths` and
:meth:`~Ledger.landed_times` (for the ingest sweep),
:meth:`~Ledger.products`, :meth:`~Ledger.events` (history, with times), :meth:`~Ledger.summary`
(for ``streamcal status``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["STATES", "TERMINAL", "TRANSITIONS", "ASSOCIATION_STATES", "AssociationRecord", "FileRecord",
           "ProductRecord", "Ledger"]

STATES = ("landed", "routed", "stage1", "stage2", "waiting_association", "stage3",
          "done", "failed", "quarantined")
TERMINAL = frozenset({"done", "failed", "quarantined"})
_STOP = ("failed", "quarantined")
#: Allowed transitions: state -> states it may go to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "landed": frozenset({"routed", *_STOP}),
    "routed": frozenset({"stage1", "done", *_STOP}),  # done: an ASN file, consumed at once
    "stage1": frozenset({"stage2", "done", *_STOP}),
    "stage2": frozenset({"waiting_association", "done", *_STOP}),
    "waiting_association": frozenset({"stage3", "done", *_STOP}),
    "stage3": frozenset({"done", *_STOP}),
    "done": frozenset(),
    "failed": frozenset({"landed"}),
    "quarantined": frozenset(),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    landed_at REAL NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    route TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    error TEXT,
    error_check TEXT
);
CREATE INDEX IF NOT EXISTS files_state ON files(state);
CREATE INDEX IF NOT EXISTS files_path ON files(path);
CREATE TABLE IF NOT EXISTS aliases (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    landed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    path TEXT NOT NULL UNIQUE,
    suffix TEXT NOT NULL,
    stage TEXT,
    sha256 TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS products_file ON products(file_id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    file_id INTEGER,
    event TEXT NOT NULL,
    state TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_file ON events(file_id);
CREATE TABLE IF NOT EXISTS associations (
    id INTEGER PRIMARY KEY,
    product TEXT NOT NULL UNIQUE,
    asn_path TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    state TEXT NOT NULL,
    partial INTEGER NOT NULL,
    members TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    fired_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    runs INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    remake INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS products_stage ON products(stage);
"""

#: Events :meth:`Ledger.note` may record (the other events are written by the writes themselves).
NOTES = frozenset({"finished", "retried", "resumed", "held"})

#: States of a stage-3 product (an association): fired (``stage3``), then ``done`` or ``failed``;
#: ``done``/``failed`` go back to ``stage3`` when it is remade (a late member arrived).
ASSOCIATION_STATES = ("stage3", "done", "failed")


@dataclass(frozen=True)
class FileRecord:
    """One landed file as the ledger knows it (``route`` decoded from JSON, or ``None``)."""

    id: int
    path: str
    name: str
    sha256: str
    size: int
    landed_at: float
    state: str
    stage: str | None
    route: dict | None
    attempts: int
    updated_at: float
    error: str | None
    error_check: str | None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class ProductRecord:
    """One product file written for a landed file."""

    id: int
    file_id: int
    path: str
    suffix: str
    stage: str | None
    sha256: str | None
    created_at: float


@dataclass(frozen=True)
class AssociationRecord:
    """One stage-3 product (an association) as the ledger knows it.

    ``members`` are ledger file ids, sorted; ``runs`` counts firings; ``remake``: a firing came
    while it was being made, so it is made again when that run ends.
    """

    id: int
    product: str
    asn_path: str
    pipeline: str
    state: str
    partial: bool
    members: list[int]
    attempts: int
    fired_at: float
    updated_at: float
    runs: int
    error: str | None
    remake: bool


def _locked(method):
    """Run a :class:`Ledger` method alone (the connection is shared by the owner's threads)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(_jsonable(value), sort_keys=True, default=str)


class Ledger:
    """Durable state of the stream in one SQLite file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The database file; created (with its directory) when absent.
    clock : callable, optional
        Returns seconds since the epoch; ``time.time`` by default
        (:class:`streamcal.testing.FakeClock` in tests).
    synchronous : {"FULL", "NORMAL"}
        SQLite's ``synchronous`` pragma; see the module docstring for the trade.
    listener : callable, optional
        Called after every commit with the events that commit made durable (dicts as
        :meth:`events` returns them, plus ``name``, the file's name): the event log mirrors
        the ledger's history this way, and never runs ahead of it.
    """

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time,
                 synchronous: str = "FULL", listener: Callable[[list[dict]], None] | None = None):
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._create()
        self._listener = listener
        self._mirrored = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]

    # -- plumbing -------------------------------------------------------------------------
    def _create(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(associations)")}
            if columns and "remake" not in columns:  # a ledger written before the column existed
                self._db.execute("ALTER TABLE associations ADD COLUMN remake INTEGER NOT NULL DEFAULT 0")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _tx(self):
        return _Savepoint(self._db) if self._batch_depth else _Transaction(self._db, self._committed)

    def _committed(self) -> None:
        """Hand the events of the transaction just committed to the listener."""
        if self._listener is None:
            return
        rows = self._db.execute("SELECT e.*, f.name AS name FROM events e LEFT JOIN files f ON f.id = e.file_id "
                                "WHERE e.id > ? ORDER BY e.id", (self._mirrored,)).fetchall()
        if rows:
            self._mirrored = rows[-1]["id"]
            self._listener([_event_dict(r) for r in rows])

    @contextlib.contextmanager
    def batch(self):
        """Run several writes as one transaction: one commit (one fsync) for all of them.

        Inside the block every write method runs in its own savepoint: a write that raises
        undoes only itself, and the caller may go on.  Nothing is committed (nor visible to
        other connections) until the block exits normally; an exception leaving the block
        rolls every write of the block back.  Nested ``batch`` blocks join the outer one.
        The lock is held for the whole block::

            with ledger.batch():
                ledger.transition(fid, "routed", route=route)
                ledger.transition(fid, "stage1", stage="calwebb_detector1")
        """
        with self._lock:
            if self._batch_depth:
                self._batch_depth += 1
                try:
                    yield self
                finally:
                    self._batch_depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_depth = 1
            try:
                yield self
            except BaseException:
                self._batch_depth = 0
                self._db.execute("ROLLBACK")
                raise
            self._batch_depth = 0
            self._db.execute("COMMIT")
            self._committed()

    @contextlib.contextmanager
    def unit(self):
        """One unit of writes: a transaction of its own, or a savepoint inside a batch — undone
        alone when it raises, the batch going on (the flow handles each arrival and outcome
        in one)."""
        if not self._batch_depth:
            with self.batch():
                yield
            return
        with _Savepoint(self._db):
            yield

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection, for a module that keeps its own tables in the ledger's
        database (:mod:`streamcal.associations.store`).  Use it only inside :meth:`batch`,
        which holds the lock and makes every statement part of the caller's transaction."""
        return self._db

    @_locked
    def close(self) -> None:
        """Close the connection (committed data are already on disk)."""
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _event(self, now: float, file_id: int | None, event: str, state: str | None,
               detail: Any = None) -> None:
        self._db.execute("INSERT INTO events(time, file_id, event, state, detail) VALUES (?,?,?,?,?)",
                         (now, file_id, event, state, _dumps(detail)))

    def _row(self, file_id: int) -> FileRecord:
        row = self._db.execute("SELECT * FROM files WHERE id=?", (file_id,)).fetchone()
        if row is None:
            raise KeyError(f"no file with id {file_id} in the ledger {self.path}")
        return _record(row)

    # -- writes ---------------------------------------------------------------------------
    @_locked
    def record_landed(self, path: str | os.PathLike, sha256: str, size: int) -> tuple[int, bool]:
        """Record a file seen in the landing directory, deduplicated by content.

        Returns
        -------
        (file_id, is_new)
            ``is_new`` is True only for content never seen before: that file is to be
            processed.  The same content under another name is recorded as an alias of the
            first file (``is_new`` False, never processed again); the same path and content
            again changes nothing.
        """
        path = str(path)
        now = self._clock()
        with self._tx():
            row = self._db.execute("SELECT id, path FROM files WHERE sha256=?", (sha256,)).fetchone()
            if row is not None:
                file_id = row["id"]
                known = row["path"] == path or self._db.execute(
                    "SELECT 1 FROM aliases WHERE path=? AND file_id=?", (path, file_id)).fetchone()
                if not known:
                    self._db.execute(  # a path may come back with other (known) content
                        "INSERT INTO aliases(file_id, path, name, landed_at) VALUES (?,?,?,?) "
                        "ON CONFLICT(path) DO UPDATE SET file_id=excluded.file_id, landed_at=excluded.landed_at",
                        (file_id, path, Path(path).name, now))
                    self._event(now, file_id, "duplicate", None, {"path": path})
                return file_id, False
            cur = self._db.execute(
                "INSERT INTO files(path, name, sha256, size, landed_at, state, updated_at) "
                "VALUES (?,?,?,?,?,?,?)", (path, Path(path).name, sha256, int(size), now, "landed", now))
            file_id = cur.lastrowid
            self._event(now, file_id, "landed", "landed", {"path": path, "size": int(size)})
            return file_id, True

    @_locked
    def transition(self, file_id: int, state: str, *, stage: str | None = None,
                   detail: Any = None, error: str | None = None, check: str | None = None,
                   route: Any = None) -> FileRecord:
        """Move a file to ``state`` in one transaction and return the updated record.

        Parameters
        ----------
        stage : str, optional
            The stage (pipeline) the file is now in; kept when not given.
        detail : JSON-able, optional
            Stored with the event.
        error, check : str, optional
            Why the file failed or was quarantined, and which check said so.
        route : mapping or dataclass, optional
            The route (``streamcal.router.Route``), stored as JSON.

        Raises
        ------
        ValueError
            ``state`` is unknown or not reachable from the current state (the message names both).
        KeyError
            No such file.

        Notes
        -----
        ``attempts`` counts attempts in the current state: it is reset to 0 when the state changes.
        """
        if state not in TRANSITIONS:
            raise ValueError(f"unknown ledger state {state!r}; states are {', '.join(STATES)}")
        now = self._clock()
        with self._tx():
            current = self._row(file_id)
            if state not in TRANSITIONS[current.state]:
                allowed = ", ".join(sorted(TRANSITIONS[current.state])) or "none (terminal)"
                raise ValueError(f"file {file_id} ({current.name}): transition from {current.state!r} "
                                 f"to {state!r} is not allowed; allowed from {current.state!r}: {allowed}")
            self._db.execute(
                "UPDATE files SET state=?, stage=COALESCE(?, stage), route=COALESCE(?, route), "
                "attempts=0, updated_at=?, error=?, error_check=? WHERE id=?",
                (state, stage, _dumps(route), now, error, check, file_id))
            info = _jsonable(detail)
            event_detail = dict(info) if isinstance(info, Mapping) else ({} if info is None else {"detail": info})
            if error is not None:
                event_detail.update(error=error, check=check)
            if route is not None:
                event_detail["route"] = _jsonable(route)
            self._event(now, file_id, state, state, {"from": current.state, "stage": stage, **event_detail})
            return self._row(file_id)

    def transition_many(self, items) -> list[FileRecord]:
        """:meth:`transition` several files (or one file several times) in one transaction.

        Parameters
        ----------
        items : iterable of (file_id, state) or (file_id, state, kwargs)
            Applied in order; ``kwargs`` are :meth:`transition`'s keyword arguments.

        Returns
        -------
        list of FileRecord
            The record after each transition.

        Raises
        ------
        ValueError, KeyError
            As :meth:`transition`; then none of the transitions is applied (all or nothing).
        """
        out = []
        with self.batch():
            for item in items:
                file_id, state, *rest = item
                out.append(self.transition(file_id, state, **(rest[0] if rest else {})))
        return out

    @_locked
    def start_attempt(self, file_id: int, stage: str | None = None) -> int:
        """Count one more attempt at the file's current state (and stage); returns the count."""
        now = self._clock()
        with self._tx():
            current = self._row(file_id)
            if current.terminal:
                raise ValueError(f"file {file_id} ({current.name}) is {current.state!r}: "
                                 f"no attempt can start from a terminal state")
            attempts = current.attempts + 1
            self._db.execute("UPDATE files SET attempts=?, stage=COALESCE(?, stage), updated_at=? WHERE id=?",
                             (attempts, stage, now, file_id))
            self._event(now, file_id, "started", current.state, {"stage": stage, "attempt": attempts})
            return attempts

    @_locked
    def record_product(self, file_id: int, path: str | os.PathLike, suffix: str,
                       stage: str | None, sha256: str | None) -> bool:
        """Record a product written for ``file_id``; idempotent by ``path``.

        Returns
        -------
        bool
            True when the path is new; False when it was already recorded (its checksum and
            time are updated: a rerun overwrote it, never adds a second row).
        """
        path = str(path)
        now = self._clock()
        with self._tx():
            self._row(file_id)
            old = self._db.execute("SELECT id, file_id FROM products WHERE path=?", (path,)).fetchone()
            if old is None:
                self._db.execute("INSERT INTO products(file_id, path, suffix, stage, sha256, created_at) "
                                 "VALUES (?,?,?,?,?,?)", (file_id, path, suffix, stage, sha256, now))
            else:
                self._db.execute("UPDATE products SET file_id=?, suffix=?, stage=?, sha256=?, created_at=? "
                                 "WHERE id=?", (file_id, suffix, stage, sha256, now, old["id"]))
                if old["file_id"] != file_id:  # new content landed under the same name replaced it
                    self._event(now, old["file_id"], "superseded", None, {"path": path, "by_file": file_id})
            self._event(now, file_id, "product", None,
                        {"path": path, "suffix": suffix, "stage": stage, "new": old is None})
            return old is None

    @_locked
    def note(self, file_id: int | None, event: str, detail: Any = None) -> None:
        """Record an event that changes no state (one of :data:`NOTES`): a stage's run
        ``finished``, a retry scheduled (``retried``), an exposure ``resumed`` after a restart,
        new content ``held`` while older content of its name is in work."""
        if event not in NOTES:
            raise ValueError(f"unknown note {event!r}; notes are {', '.join(sorted(NOTES))}")
        with self._tx():
            state = None if file_id is None else self._row(file_id).state
            self._event(self._clock(), file_id, event, state, detail)

    @_locked
    def product(self, path: str | os.PathLike) -> ProductRecord | None:
        """The product recorded under ``path``, or None."""
        row = self._db.execute("SELECT * FROM products WHERE path=?", (str(path),)).fetchone()
        return None if row is None else ProductRecord(**dict(row))

    @_locked
    def stage_products(self, stage: str, name_prefix: str) -> list[ProductRecord]:
        """Products made by pipeline ``stage`` whose file name starts with ``name_prefix``
        (``jw01234-o001_``: the level-3 products of one observation), oldest first."""
        rows = self._db.execute("SELECT * FROM products WHERE stage=? ORDER BY created_at, id", (stage,))
        return [ProductRecord(**dict(r)) for r in rows if Path(r["path"]).name.startswith(name_prefix)]

    # -- associations (stage-3 products) ---------------------------------------------------
    @_locked
    def fire_association(self, product: str, asn_path: str | os.PathLike, pipeline: str,
                         member_ids: list[int], partial: bool) -> AssociationRecord:
        """Record that stage 3 of ``product`` is to be (re)made from ``asn_path``: the
        association goes to ``stage3`` (attempts reset, ``runs`` + 1) and every member still
        ``waiting_association`` to ``stage3``.  Returns the association record."""
        now = self._clock()
        with self.unit():
            self._db.execute(
                "INSERT INTO associations(product, asn_path, pipeline, state, partial, members, fired_at, "
                "updated_at, runs) VALUES (?,?,?,?,?,?,?,?,1) ON CONFLICT(product) DO UPDATE SET "
                "asn_path=excluded.asn_path, pipeline=excluded.pipeline, state='stage3', partial=excluded.partial, "
                "members=excluded.members, attempts=0, fired_at=excluded.fired_at, updated_at=excluded.updated_at, "
                "runs=runs+1, error=NULL, remake=0",
                (product, str(asn_path), pipeline, "stage3", int(partial), json.dumps(sorted(member_ids)), now, now))
            for fid in member_ids:
                if self._row(fid).state == "waiting_association":
                    self.transition(fid, "stage3", stage=pipeline, detail={"association": product})
            self._event(now, None, "fired", "stage3", {"association": product, "partial": bool(partial),
                                                       "members": sorted(member_ids)})
            return self._association(product)

    @_locked
    def request_remake(self, product: str) -> AssociationRecord:
        """Remember that ``product`` must be made again once the run in progress ends (its
        members changed while it was being made); the flag is cleared by the next firing."""
        with self.unit():
            self._association(product)
            self._db.execute("UPDATE associations SET remake=1, updated_at=? WHERE product=?",
                             (self._clock(), product))
            return self._association(product)

    @_locked
    def start_association(self, product: str) -> int:
        """Count one more attempt at making ``product``; returns the count."""
        with self.unit():
            rec = self._association(product)
            if rec.state != "stage3":
                raise ValueError(f"association {product} is {rec.state!r}, not being made")
            self._db.execute("UPDATE associations SET attempts=attempts+1, updated_at=? WHERE product=?",
                             (self._clock(), product))
            return rec.attempts + 1

    @_locked
    def end_association(self, product: str, state: str, error: str | None = None,
                        check: str | None = None) -> AssociationRecord:
        """``product`` is ``done`` (its products recorded) or ``failed``; members in ``stage3``
        follow it (a member of a remade product that is already done stays done)."""
        if state not in ("done", "failed"):
            raise ValueError(f"an association ends done or failed, not {state!r}")
        now = self._clock()
        with self.unit():
            rec = self._association(product)
            self._db.execute("UPDATE associations SET state=?, error=?, updated_at=? WHERE product=?",
                             (state, error, now, product))
            for fid in rec.members:
                if self._row(fid).state == "stage3":
                    self.transition(fid, state, error=error, check=check, detail={"association": product})
            self._event(now, None, f"association_{state}", state, {"association": product, "error": error,
                                                                    "partial": rec.partial})
            return self._association(product)

    @_locked
    def associations(self, state: str | None = None) -> list[AssociationRecord]:
        """Association records (``members`` decoded, ``partial`` bool), oldest first."""
        sql = "SELECT product FROM associations" + ("" if state is None else " WHERE state=?") + " ORDER BY id"
        return [self._association(r["product"]) for r in self._db.execute(sql, () if state is None else (state,))]

    def _association(self, product: str) -> AssociationRecord:
        row = self._db.execute("SELECT * FROM associations WHERE product=?", (product,)).fetchone()
        if row is None:
            raise KeyError(f"no association {product!r} in the ledger {self.path}")
        return AssociationRecord(**{**dict(row), "members": json.loads(row["members"]),
                                    "partial": bool(row["partial"]), "remake": bool(row["remake"])})

    # -- reads ----------------------------------------------------------------------------
    @_locked
    def get(self, file_id: int) -> FileRecord:
        """The record of one file (``KeyError`` if unknown)."""
        return self._row(file_id)

    @_locked
    def by_path(self, path: str | os.PathLike) -> FileRecord | None:
        """The file last recorded under ``path`` (as its own path or an alias), or None."""
        path = str(path)
        row = self._db.execute("SELECT * FROM files WHERE path=? ORDER BY landed_at DESC, id DESC LIMIT 1",
                               (path,)).fetchone()
        alias = self._db.execute("SELECT file_id, landed_at FROM aliases WHERE path=?", (path,)).fetchone()
        if alias is not None and (row is None or alias["landed_at"] > row["landed_at"]):
            return self._row(alias["file_id"])
        return None if row is None else _record(row)

    @_locked
    def by_sha256(self, sha256: str) -> FileRecord | None:
        """The file with this content, or None."""
        row = self._db.execute("SELECT * FROM files WHERE sha256=?", (sha256,)).fetchone()
        return None if row is None else _record(row)

    @_locked
    def in_flight(self) -> list[FileRecord]:
        """Every file not in a terminal state, oldest landing first: what to resume on start."""
        marks = ",".join("?" * len(TERMINAL))
        rows = self._db.execute(f"SELECT * FROM files WHERE state NOT IN ({marks}) ORDER BY landed_at, id",
                                tuple(TERMINAL)).fetchall()
        return [_record(r) for r in rows]

    @_locked
    def known_paths(self) -> set[str]:
        """Every path recorded, as a file or an alias (the ingest sweep skips these)."""
        rows = self._db.execute("SELECT path FROM files UNION SELECT path FROM aliases").fetchall()
        return {r["path"] for r in rows}

    @_locked
    def landed_times(self) -> dict[str, float]:
        """Every recorded path (file or alias) -> when content was last recorded under it
        (seconds since the epoch): the ingest sweep skips a path not changed since then."""
        rows = self._db.execute("SELECT path, MAX(landed_at) AS t FROM (SELECT path, landed_at FROM files "
                                "UNION ALL SELECT path, landed_at FROM aliases) GROUP BY path").fetchall()
        return {r["path"]: r["t"] for r in rows}

    @_locked
    def products(self, file_id: int | None = None) -> list[ProductRecord]:
        """Products of one file, or all products, oldest first."""
        if file_id is None:
            rows = self._db.execute("SELECT * FROM products ORDER BY created_at, id").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM products WHERE file_id=? ORDER BY created_at, id",
                                    (file_id,)).fetchall()
        return [ProductRecord(**dict(r)) for r in rows]

    @_locked
    def events(self, file_id: int | None = None) -> list[dict]:
        """The history, oldest first (``detail`` decoded)."""
        sql = "SELECT * FROM events" + ("" if file_id is None else " WHERE file_id=?") + " ORDER BY id"
        rows = self._db.execute(sql, () if file_id is None else (file_id,)).fetchall()
        return [_event_dict(r) for r in rows]

    @_locked
    def summary(self, recent: int = 10) -> dict:
        """What ``streamcal status`` shows, as plain JSON-able data.

        Returns
        -------
        dict
            ``states`` (count per state, every state present), ``stages`` (``{stage: {state:
            count}}``), ``files``, ``products`` (totals), ``oldest_waiting`` (the non-terminal
            file that landed first, with ``age_s``; or None) and ``recent_products`` (the
            ``recent`` latest, newest first).
        """
        now = self._clock()
        states = dict.fromkeys(STATES, 0)
        stages: dict[str, dict[str, int]] = {}
        for r in self._db.execute("SELECT state, stage, COUNT(*) AS n FROM files GROUP BY state, stage"):
            states[r["state"]] = states.get(r["state"], 0) + r["n"]
            per = stages.setdefault(r["stage"] or "-", {})
            per[r["state"]] = per.get(r["state"], 0) + r["n"]
        waiting = self.in_flight()
        oldest = None
        if waiting:
            w = waiting[0]
            oldest = {"id": w.id, "name": w.name, "path": w.path, "state": w.state, "stage": w.stage,
                      "landed_at": w.landed_at, "age_s": max(0.0, now - w.landed_at)}
        rows = self._db.execute(
            "SELECT p.path, p.suffix, p.stage, p.created_at, f.name AS file FROM products p "
            "JOIN files f ON f.id = p.file_id ORDER BY p.created_at DESC, p.id DESC LIMIT ?",
            (int(recent),)).fetchall()
        n_products = self._db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
        assoc = {r["state"]: r["n"] for r in self._db.execute(
            "SELECT state, COUNT(*) AS n FROM associations GROUP BY state")}
        partial = self._db.execute("SELECT COUNT(*) FROM associations WHERE partial=1").fetchone()[0]
        return {"files": sum(states.values()), "states": states, "stages": stages,
                "products": n_products, "oldest_waiting": oldest,
                "recent_products": [dict(r) for r in rows],
                "associations": {**{s: assoc.get(s, 0) for s in ASSOCIATION_STATES}, "partial": partial}}


class _Savepoint:
    """``SAVEPOINT`` … ``RELEASE`` inside a batch (``ROLLBACK TO`` on any exception)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("SAVEPOINT ledger_write")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type:
            self._db.execute("ROLLBACK TO ledger_write")
        self._db.execute("RELEASE ledger_write")


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception), then ``on_commit()``."""

    def __init__(self, db: sqlite3.Connection, on_commit: Callable[[], None]):
        self._db = db
        self._on_commit = on_commit

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        if not exc_type:
            self._on_commit()


def _event_dict(row: sqlite3.Row) -> dict:
    return {**dict(row), "detail": None if row["detail"] is None else json.loads(row["detail"])}


def _record(row: sqlite3.Row) -> FileRecord:
    values = dict(row)
    values["route"] = None if values["route"] is None else json.loads(values["route"])
    return FileRecord(**values)
