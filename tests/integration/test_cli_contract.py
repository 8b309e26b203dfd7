"""The JSON contract of `modpipe gate` and `modpipe scan`, run as a user would (subprocess).

Real models (MiniLM, NudeNet) on the shipped default policy; small generated media.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from modpipe.policy import load_policy
from modpipe.report import decision_schema
from modpipe.testing.media import scene, write_video

CATEGORIES = set(load_policy().policy.categories)
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "src/modpipe/schemas/decision.schema.json"


def modpipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modpipe.cli.main", *args],
                          capture_output=True, text=True, timeout=300)


def test_the_schema_file_in_the_repo_matches_the_models():
    assert json.loads(SCHEMA_FILE.read_text()) == decision_schema(), "run `make schema`"


def test_gate_prints_one_decision_with_every_category():
    r = modpipe("gate", "a man beheading a hostage in front of an ISIS flag", "--user", "u1")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    jsonschema.validate(d, decision_schema())
    assert set(d["categories"]) == CATEGORIES
    assert d["action"] == "block" and d["categories"]["terrorism"]["action"] == "block"
    assert d["provenance"]["policy_hash"] == load_policy().hash
    assert "text" in d["provenance"]["models"] and "nudity" in d["provenance"]["models"]
    assert d["user"] == "u1"
    # unavailable CLIP is stated loudly in every decision, never hidden
    assert any(s["scorer"] == "clip" and s["status"] == "unavailable" for s in d["scorers"])


def test_gate_jsonl_batch_keeps_going_past_bad_lines(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "p1", "text": "a kitten sleeping on a sofa"}),
        "{not json",
        json.dumps({"id": "p3", "text": "a teenager cutting her wrists with a razor blade", "audience": "teen"}),
        json.dumps({"id": "p4", "text": 42}),
        json.dumps({"id": "p5", "text": "hello", "audience": "martians"}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    r = modpipe("gate", "--input", str(inp), "--output", str(out))
    assert r.returncode == 1  # some lines errored
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["p1", "2", "p3", "p4", "p5"]
    assert rows[0]["action"] == "allow" and rows[0]["error"] is None
    assert set(rows[0]["categories"]) == CATEGORIES
    assert rows[2]["action"] == "block" and rows[2]["audience"] == "teen"
    for bad in (rows[1], rows[3], rows[4]):
        assert bad["action"] == "review" and bad["error"]["type"] in {"JSONDecodeError", "InputError"}
    assert all(row["policy_hash"] == load_policy().hash for row in rows)


def test_scan_reports_each_video_and_fails_closed_on_bad_files(tmp_path):
    good = write_video(tmp_path / "good.mp4", [scene(t=i / 12) for i in range(24)], fps=12)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not a video at all\n" * 50)
    out = tmp_path / "scan.jsonl"
    r = modpipe("scan", str(good), str(corrupt), str(empty), str(text), "--output", str(out))
    assert r.returncode == 1
    rows = {Path(row["input"]).name: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {"good.mp4", "corrupt.mp4", "empty.mp4", "notes.txt"}
    for row in rows.values():
        jsonschema.validate(row, decision_schema())
        assert set(row["categories"]) == CATEGORIES
    assert rows["good.mp4"]["action"] == "allow" and rows["good.mp4"]["error"] is None
    assert rows["good.mp4"]["media"]["frames_sampled"] >= 2
    for name in ("corrupt.mp4", "empty.mp4", "notes.txt"):
        assert rows[name]["action"] == "review", name
        assert rows[name]["error"]["type"] in {"MediaError", "EmptyMediaError", "NotVideoError"}
    assert rows["empty.mp4"]["error"]["type"] == "EmptyMediaError"


def test_scan_exits_zero_when_every_input_decoded(tmp_path):
    good = write_video(tmp_path / "good.mp4", [scene(t=i / 12) for i in range(12)], fps=12)
    r = modpipe("scan", str(good))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["action"] == "allow"


@pytest.mark.parametrize("args", [["gate"], ["gate", "x", "--input", "y.jsonl"]])
def test_gate_needs_exactly_one_input(args):
    r = modpipe(*args)
    assert r.returncode == 2 and "either a prompt TEXT or --input" in r.stderr
