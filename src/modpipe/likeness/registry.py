"""The likeness / consent registry: one SQLite file under `MODPIPE_HOME` (likeness.sqlite3).

    people    id, display name, kind (public_figure | cameo_owner)
    aliases   other spellings and nicknames of a person
    faces     128-d float32 face embeddings (dlib ResNet), with the photo's sha256
    grants    consent: person → a user id, or everyone ('*'); revoking sets revoked_at
    audit     append-only log of every enroll / import / grant / revoke (triggers refuse
              UPDATE and DELETE)
    meta      a version counter, bumped by every write, so long-running readers (the face and
              name scorers in a server) reload their gallery when another process enrolls
              (`recent_version`: within a second)

Safe with several processes: WAL journal, a busy timeout, and every write is one
`BEGIN IMMEDIATE … COMMIT` transaction, so a crash mid-write loses the half-done write and
nothing else. sqlite3 errors are mapped to `RegistryError` / `NotFoundError` here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from modpipe.errors import NotFoundError, RegistryError

KINDS = ("public_figure", "cameo_owner")
EVERYONE = "*"
EMBEDDING_DIM = 128
RECHECK_S = 1.0  # `recent_version` reads the counter at least this often

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY, name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    kind TEXT NOT NULL CHECK (kind IN {KINDS}), created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (
    person_id TEXT NOT NULL REFERENCES people(id), alias TEXT NOT NULL CHECK (length(trim(alias)) > 0),
    PRIMARY KEY (person_id, alias));
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY, person_id TEXT NOT NULL REFERENCES people(id),
    embedding BLOB NOT NULL CHECK (length(embedding) = {EMBEDDING_DIM * 4}),
    photo_sha256 TEXT, photo_path TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
    id INTEGER PRIMARY KEY, person_id TEXT NOT NULL REFERENCES people(id),
    grantee TEXT NOT NULL, granted_at TEXT NOT NULL, revoked_at TEXT);
CREATE INDEX IF NOT EXISTS grants_by_person ON grants (person_id, grantee);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
    person_id TEXT, grantee TEXT, detail TEXT NOT NULL DEFAULT '{{}}');
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    faces: int = 0


@dataclass(frozen=True)
class Grant:
    id: int
    person_id: str
    grantee: str  # a user id, or '*' for everyone
    granted_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    action: str
    person_id: str | None
    grantee: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Gallery:
    """Every enrolled face as one matrix (row i belongs to people[person_ids[i]])."""

    version: int
    embeddings: np.ndarray  # (n, 128) float32
    person_ids: tuple[str, ...]
    people: dict[str, Person]


class Registry:
    """One connection per process (keep it in `Resources`); thread-safe through a lock."""

    def __init__(self, path: str | Path, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._writes = 0  # commits through this connection
        self._seen: tuple[float, int, int] | None = None  # (when, version, _writes) for recent_version
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s,
                                         isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
        except (sqlite3.Error, OSError) as exc:
            raise RegistryError(f"cannot open likeness registry {self.path}: {exc}") from exc

    @classmethod
    def open(cls, settings: Any = None) -> Registry:
        from modpipe.settings import get_settings

        return cls((settings or get_settings()).registry_path)

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (takes the write lock up front, so two
        processes never deadlock upgrading), COMMIT on success, ROLLBACK on any exception."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise RegistryError(f"likeness registry is busy or unwritable: {exc}") from exc
            try:
                yield self._conn
                self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
                self._conn.execute("COMMIT")
                self._writes += 1
            except BaseException as exc:
                self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise RegistryError(f"registry refused the write: {exc}") from exc
                if isinstance(exc, sqlite3.Error):
                    raise RegistryError(f"registry write failed: {exc}") from exc
                raise

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise RegistryError(f"registry read failed: {exc}") from exc

    @staticmethod
    def _audit(c: sqlite3.Connection, action: str, person_id: str | None = None,
               grantee: str | None = None, **detail: Any) -> None:
        c.execute("INSERT INTO audit (at, action, person_id, grantee, detail) VALUES (?, ?, ?, ?, ?)",
                  (_now(), action, person_id, grantee, json.dumps(detail, sort_keys=True)))

    @staticmethod
    def _upsert_person(c: sqlite3.Connection, person_id: str, name: str, kind: str,
                       aliases: Iterable[str]) -> None:
        if kind not in KINDS:
            raise RegistryError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not person_id or not person_id.strip():
            raise RegistryError("a person needs a non-empty id")
        c.execute("INSERT INTO people (id, name, kind, created_at) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT(id) DO UPDATE SET name = excluded.name, kind = excluded.kind",
                  (person_id, name, kind, _now()))
        c.executemany("INSERT OR IGNORE INTO aliases (person_id, alias) VALUES (?, ?)",
                      [(person_id, a.strip()) for a in aliases if a and a.strip() and a.strip() != name])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ writes

    def enroll(self, person_id: str, name: str, embeddings: Iterable[np.ndarray], *,
               kind: str = "public_figure", aliases: Iterable[str] = (),
               photos: Iterable[tuple[str, str | None]] = ()) -> Person:
        """Add (or extend) a person with face embeddings, all in one transaction.
        `photos` gives (sha256, kept path or None) per embedding, for the audit trail."""
        embs = [np.asarray(e, np.float32).reshape(-1) for e in embeddings]
        if any(e.shape != (EMBEDDING_DIM,) for e in embs):
            raise RegistryError(f"face embeddings must have {EMBEDDING_DIM} values")
        photos = list(photos) or [(None, None)] * len(embs)
        with self._tx() as c:
            self._upsert_person(c, person_id, name, kind, aliases)
            now = _now()
            c.executemany(
                "INSERT INTO faces (person_id, embedding, photo_sha256, photo_path, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(person_id, e.tobytes(), sha, p, now) for e, (sha, p) in zip(embs, photos, strict=True)])
            self._audit(c, "enroll", person_id, None, name=name, kind=kind, faces=len(embs),
                        photos=[sha for sha, _ in photos if sha])
        return self.person(person_id)

    def import_names(self, records: Iterable[dict[str, Any]]) -> int:
        """Bulk-add public figures by name and aliases (no faces), all or nothing.
        Each record: {"id", "name", "aliases"?: [...], "kind"?: "public_figure"}."""
        n = 0
        with self._tx() as c:
            for i, r in enumerate(records):
                if not isinstance(r, dict) or not r.get("name") or not r.get("id"):
                    raise RegistryError(f"record {i + 1} needs 'id' and 'name'")
                kind = r.get("kind") if r.get("kind") in KINDS else "public_figure"
                aliases = r.get("aliases") or []
                if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                    raise RegistryError(f"record {i + 1}: 'aliases' must be a list of strings")
                self._upsert_person(c, str(r["id"]), str(r["name"]), kind, aliases)
                self._audit(c, "import", str(r["id"]), None, name=str(r["name"]), aliases=len(aliases))
                n += 1
        return n

    def grant(self, person_id: str, user: str | None = None, *, everyone: bool = False) -> Grant:
        """Consent: `person_id` lets `user` (or everyone) use their likeness. Idempotent."""
        grantee = self._grantee(user, everyone)
        self.person(person_id)
        with self._tx() as c:
            row = c.execute("SELECT id, granted_at FROM grants WHERE person_id = ? AND grantee = ? "
                            "AND revoked_at IS NULL", (person_id, grantee)).fetchone()
            if row is None:
                at = _now()
                cur = c.execute("INSERT INTO grants (person_id, grantee, granted_at) VALUES (?, ?, ?)",
                                (person_id, grantee, at))
                row = (cur.lastrowid, at)
                self._audit(c, "grant", person_id, grantee, grant_id=row[0])
        return Grant(row[0], person_id, grantee, row[1])

    def revoke(self, person_id: str, user: str | None = None, *, everyone: bool = False) -> int:
        """Withdraw consent. Raises NotFoundError when there is no active grant to revoke."""
        grantee = self._grantee(user, everyone)
        self.person(person_id)
        with self._tx() as c:
            at = _now()
            ids = [r[0] for r in c.execute("SELECT id FROM grants WHERE person_id = ? AND grantee = ? "
                                           "AND revoked_at IS NULL", (person_id, grantee))]
            if not ids:
                raise NotFoundError(f"{person_id!r} has no active grant for "
                                    f"{'everyone' if grantee == EVERYONE else repr(grantee)}")
            c.executemany("UPDATE grants SET revoked_at = ? WHERE id = ?", [(at, i) for i in ids])
            self._audit(c, "revoke", person_id, grantee, grant_ids=ids)
        return len(ids)

    @staticmethod
    def _grantee(user: str | None, everyone: bool) -> str:
        if everyone == (user is not None):
            raise RegistryError("give exactly one of a user id or everyone")
        if user is not None and (not user.strip() or user == EVERYONE):
            raise RegistryError(f"invalid user id {user!r}")
        return EVERYONE if everyone else user  # type: ignore[return-value]

    # ------------------------------------------------------------------ reads

    def version(self) -> int:
        """Bumped by every committed write (in any process); read from the database."""
        return int(self._read("SELECT value FROM meta WHERE key = 'version'")[0][0])

    def recent_version(self, max_age_s: float = RECHECK_S) -> int:
        """`version()` for checks on every request (scorers rebuilding their name index or face
        gallery): read again after a write through this connection, and otherwise at most
        `max_age_s` old, so another process's import shows within a second. The query costs
        ~0.1 ms after a model's forward pass has emptied the CPU caches, a tenth of the gate's
        own work. Consent is never read this way: `consent()` always asks the database."""
        now, writes, seen = time.monotonic(), self._writes, self._seen
        if seen is not None and seen[2] == writes and now - seen[0] < max_age_s:
            return seen[1]
        v = self.version()
        self._seen = (now, v, writes)
        return v

    def person(self, person_id: str) -> Person:
        rows = self._read("SELECT id, name, kind FROM people WHERE id = ?", (person_id,))
        if not rows:
            raise NotFoundError(f"no person {person_id!r} in the likeness registry")
        return self.people(rows)[0]

    def people(self, rows: list[tuple] | None = None) -> list[Person]:
        rows = rows if rows is not None else self._read("SELECT id, name, kind FROM people ORDER BY id")
        aliases: dict[str, list[str]] = {}
        for pid, a in self._read("SELECT person_id, alias FROM aliases ORDER BY alias"):
            aliases.setdefault(pid, []).append(a)
        faces = dict(self._read("SELECT person_id, count(*) FROM faces GROUP BY person_id"))
        return [Person(pid, name, kind, tuple(aliases.get(pid, ())), faces.get(pid, 0))
                for pid, name, kind in rows]

    def gallery(self) -> Gallery:
        """A consistent snapshot of every face embedding (read in one transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                version = self.version()
                rows = self._read("SELECT person_id, embedding FROM faces ORDER BY id")
                people = {p.id: p for p in self.people()}
            finally:
                self._conn.execute("COMMIT")
        emb = (np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, EMBEDDING_DIM)
               if rows else np.zeros((0, EMBEDDING_DIM), np.float32))
        return Gallery(version, emb, tuple(r[0] for r in rows), people)

    def grants(self, person_id: str | None = None, active_only: bool = False) -> list[Grant]:
        sql = "SELECT id, person_id, grantee, granted_at, revoked_at FROM grants"
        cond, args = [], []
        if person_id is not None:
            cond.append("person_id = ?")
            args.append(person_id)
        if active_only:
            cond.append("revoked_at IS NULL")
        sql += (" WHERE " + " AND ".join(cond) if cond else "") + " ORDER BY id"
        return [Grant(*r) for r in self._read(sql, tuple(args))]

    def consent(self, person_id: str, user: str | None) -> tuple[str, Grant | None]:
        """('granted', grant) if an active grant covers `user` (or everyone); else
        ('revoked', last revoked grant) if one existed; else ('none', None)."""
        who = (EVERYONE,) if user is None else (EVERYONE, user)
        rows = [g for g in self.grants(person_id) if g.grantee in who]
        active = [g for g in rows if g.revoked_at is None]
        if active:
            return "granted", active[0]
        return ("revoked", rows[-1]) if rows else ("none", None)

    def audit(self, person_id: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, at, action, person_id, grantee, detail FROM audit"
        args: tuple = ()
        if person_id is not None:
            sql, args = sql + " WHERE person_id = ?", (person_id,)
        return [AuditEntry(*r[:5], json.loads(r[5])) for r in self._read(sql + " ORDER BY id", args)]
