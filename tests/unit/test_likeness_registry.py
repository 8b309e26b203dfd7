"""The likeness / consent registry: enroll, grant, revoke, audit — durable and all-or-nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from modpipe.errors import NotFoundError, RegistryError
from modpipe.likeness import Registry


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "likeness.sqlite3")
    yield r
    r.close()


def test_enroll_grant_revoke_and_the_audit_trail(reg):
    p = reg.enroll("ana", "Ana Lopez", [vec(1), vec(2)], kind="cameo_owner", aliases=["Ana L."])
    assert (p.name, p.kind, p.aliases, p.faces) == ("Ana Lopez", "cameo_owner", ("Ana L.",), 2)
    assert reg.consent("ana", "bob") == ("none", None)

    g = reg.grant("ana", "bob")
    assert reg.grant("ana", "bob") == g  # idempotent: one active grant
    assert reg.consent("ana", "bob") == ("granted", g)
    assert reg.consent("ana", "carol")[0] == "none"

    assert reg.revoke("ana", "bob") == 1
    state, last = reg.consent("ana", "bob")
    assert state == "revoked" and last.revoked_at is not None
    with pytest.raises(NotFoundError, match="no active grant"):
        reg.revoke("ana", "bob")

    reg.grant("ana", everyone=True)
    assert reg.consent("ana", "carol")[0] == "granted" and reg.consent("ana", None)[0] == "granted"

    actions = [(e.action, e.grantee) for e in reg.audit("ana")]
    assert actions == [("enroll", None), ("grant", "bob"), ("revoke", "bob"), ("grant", "*")]
    assert all(e.at.endswith("+00:00") for e in reg.audit())


def test_the_audit_table_is_append_only(reg):
    reg.import_names([{"id": "p1", "name": "Pat Doe"}])
    for sql in ("UPDATE audit SET action = 'x'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            reg._conn.execute(sql)
    assert [e.action for e in reg.audit()] == ["import"]


def test_bad_requests_are_clear_errors(reg):
    with pytest.raises(NotFoundError):
        reg.grant("nobody", "bob")
    reg.import_names([{"id": "p1", "name": "Pat Doe"}])
    with pytest.raises(RegistryError, match="exactly one"):
        reg.grant("p1")
    with pytest.raises(RegistryError, match="kind"):
        reg.enroll("p2", "X", [vec(1)], kind="celebrity")
    with pytest.raises(RegistryError, match="128"):
        reg.enroll("p2", "X", [np.zeros(64)])


def test_an_error_between_statements_rolls_the_whole_import_back(reg):
    reg.import_names([{"id": "keep", "name": "Kept Person"}])
    before = reg.version()
    with pytest.raises(RegistryError, match="record 3"):
        reg.import_names([{"id": "a", "name": "A One"}, {"id": "b", "name": "B Two"}, {"name": "no id"}])
    assert [p.id for p in reg.people()] == ["keep"]
    assert [e.person_id for e in reg.audit()] == ["keep"] and reg.version() == before


CRASH = textwrap.dedent("""
    import os, sys
    import numpy as np
    from modpipe.likeness import Registry
    reg = Registry(sys.argv[1])
    def die(sql):  # the process dies inside the transaction, after the person row was written
        if sql.startswith("INSERT INTO faces"):
            os._exit(9)
    reg._conn.set_trace_callback(die)
    reg.enroll("victim", "Half Written", [np.ones(128, np.float32)], aliases=["Half"])
""")


def test_a_process_killed_mid_transaction_loses_nothing_and_leaves_no_half_state(tmp_path):
    path = tmp_path / "likeness.sqlite3"
    reg = Registry(path)
    reg.enroll("ana", "Ana Lopez", [vec(1)])
    g = reg.grant("ana", "bob")
    reg.close()

    r = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True, timeout=120)
    assert r.returncode == 9, r.stderr.decode()

    reg = Registry(path)  # recovery happens on open (WAL)
    assert reg._conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [p.id for p in reg.people()] == ["ana"]  # no half-enrolled "victim"
    assert reg._conn.execute("SELECT count(*) FROM aliases").fetchone() == (0,)
    assert reg.consent("ana", "bob") == ("granted", g)
    assert [e.action for e in reg.audit()] == ["enroll", "grant"]
    np.testing.assert_array_equal(reg.gallery().embeddings, vec(1)[None])


WRITER = textwrap.dedent("""
    import sys
    from modpipe.likeness import Registry
    reg = Registry(sys.argv[1])
    for i in range(40):
        reg.import_names([{"id": f"{sys.argv[2]}-{i}", "name": f"Person {i}"}])
        reg.grant(f"{sys.argv[2]}-{i}", "bob")
""")


def test_several_processes_write_at_once_without_losing_a_row(tmp_path):
    path = str(tmp_path / "likeness.sqlite3")
    Registry(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, tag]) for tag in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    reg = Registry(path)
    assert len(reg.people()) == 120 and len(reg.grants(active_only=True)) == 120
    assert len(reg.audit()) == 240 and reg.version() == 240


def test_recent_version_is_fresh_after_own_writes_and_at_most_a_second_old(tmp_path, monkeypatch):
    """Scorers check the version on every request without a query each time: a write through
    the same connection shows at once, another connection's once `max_age_s` has passed."""
    path = tmp_path / "likeness.sqlite3"
    reader, other = Registry(path), Registry(path)
    queries = []
    real = reader.version
    monkeypatch.setattr(reader, "version", lambda: queries.append(1) or real())
    assert reader.recent_version() == 0
    for _ in range(50):
        reader.recent_version()
    assert len(queries) == 1
    reader.import_names([{"id": "p1", "name": "Person One"}])
    assert reader.recent_version() == 1 and len(queries) == 2  # own write: read again at once
    other.import_names([{"id": "p2", "name": "Person Two"}])
    assert reader.recent_version() == 1  # within max_age_s: the last value
    assert reader.recent_version(max_age_s=0) == 2
    reader.close()
    other.close()


def test_apply_consent_zeroes_only_consented_matches_and_says_why(reg):
    from modpipe.likeness.consent import apply_consent
    from modpipe.types import Modality, Score

    reg.import_names([{"id": "star", "name": "Star Person"}, {"id": "cam", "name": "Cam Owner", "kind": "cameo_owner"}])
    g = reg.grant("star", "bob")

    def match(pid: str) -> Score:
        return Score("names", "match", 1.0, 0, Modality.PROMPT, evidence={"person_id": pid})

    other = Score("text", "sexual", 0.9, 0, Modality.PROMPT)
    out = apply_consent([match("star"), match("cam"), other], "bob", reg)
    assert out[0].value == 0.0 and out[0].evidence["consent"] == "granted" and out[0].evidence["grant_id"] == g.id
    assert out[1].value == 1.0 and out[1].evidence["consent"] == "none"  # cameo owners: blocked unless granted
    assert out[2] is other
    assert apply_consent([match("star")], "carol", reg)[0].value == 1.0
    reg.revoke("star", "bob")
    assert apply_consent([match("star")], "bob", reg)[0].evidence["consent"] == "revoked"
