"""`modpipe batch` on Ray Data: one record per input, kill -9 then resume, a two-node cluster.

A small real policy (NudeNet on frames) keeps actor start-up short; the clips are two seconds of
generated scenery. The CLI runs as a user would run it (a subprocess), except the first test,
which calls the scoring actor's callable class directly on one batch, without Ray.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from modpipe.batch import ScanBatch, prepare_row
from modpipe.policy import load_policy
from modpipe.testing.media import scene, write_video

POLICY = """
version: 1
name: batch-test
audiences: [teen]
sampling: {fps: 1.0, change_aware: false}
extraction: {asr: false, ocr: false}
scorers:
  nudity:
    type: nudenet
    params:
      labels: {explicit: [FEMALE_GENITALIA_EXPOSED, MALE_GENITALIA_EXPOSED]}
categories:
  sexual:
    signals: [{scorer: nudity, label: explicit}]
    review_at: 0.5
    block_at: 0.8
    audiences: {teen: {review_at: 0.3, block_at: 0.6}}
"""


def clip(path: Path, seed: int) -> Path:
    return write_video(path, [scene(160, 96, t=k / 6, seed=seed) for k in range(12)], fps=6)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder with 2 good clips, a corrupt .mp4 and a text file; plus 10 more good clips."""
    root = tmp_path_factory.mktemp("batch-media")
    (root / "mixed").mkdir()
    clip(root / "mixed" / "good1.mp4", 1)
    clip(root / "mixed" / "good2.mp4", 2)
    (root / "mixed" / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (root / "mixed" / "notes.txt").write_text("not a video\n")
    (root / "many").mkdir()
    for i in range(10):
        clip(root / "many" / f"v{i:02d}.mp4", 10 + i)
    (root / "policy.yaml").write_text(POLICY)
    return root


def modpipe_batch(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modpipe.cli.main", "batch", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=180, **kw)


def records(out: Path) -> list[dict]:
    return pq.read_table(out / "decisions.parquet").to_pylist()


def test_the_scoring_callable_decides_one_batch_without_ray(media):
    loaded = load_policy(media / "policy.yaml")
    rows = [prepare_row({"id": "good", "uri": str(media / "mixed" / "good1.mp4")}, loaded),
            prepare_row({"id": "corrupt", "uri": str(media / "mixed" / "corrupt.mp4")}, loaded),
            prepare_row({"id": "teen", "uri": str(media / "mixed" / "good2.mp4"), "audience": "teen",
                         "user": "u7"}, loaded),
            prepare_row({"id": "martian", "uri": str(media / "mixed" / "good2.mp4"),
                         "audience": "martians"}, loaded)]
    batch = {k: [r[k] for r in rows] for k in ("id", "uri", "user", "audience", "prepared")}
    batch["prepared"][1] = b"not a pickle"  # an actor-side failure for one item only

    out = ScanBatch(loaded)(batch)

    assert out["id"] == ["good", "corrupt", "teen", "martian"]
    good, corrupt, teen, martian = (json.loads(r) for r in out["record"])
    assert good["action"] == "allow" and good["error_type"] is None
    assert good["sexual_action"] == "allow" and 0.0 <= good["sexual_score"] < 0.5
    assert json.loads(good["decision"])["media"]["frames_sampled"] == 2
    assert good["policy_hash"] == loaded.hash
    assert corrupt["action"] == "review" and corrupt["error_type"] == "UnpicklingError"
    assert teen["user"] == "u7" and teen["audience"] == "teen" and teen["action"] == "allow"
    assert martian["action"] == "review" and martian["error_type"] == "InputError"
    assert "martians" in martian["error_message"]


@pytest.mark.ray
def test_a_folder_of_good_corrupt_and_non_video_files_gives_one_record_each(media, tmp_path):
    out = tmp_path / "out"
    r = modpipe_batch(str(media / "mixed"), "--output", str(out), "--policy", str(media / "policy.yaml"),
                      "--format", "both")
    assert r.returncode == 1, r.stderr  # some inputs errored (like `modpipe scan`)
    rows = {row["id"]: row for row in records(out)}
    assert sorted(rows) == ["corrupt.mp4", "good1.mp4", "good2.mp4", "notes.txt"]
    assert rows["good1.mp4"]["action"] == rows["good2.mp4"]["action"] == "allow"
    for bad in ("corrupt.mp4", "notes.txt"):
        assert rows[bad]["action"] == "review" and rows[bad]["error_type"].endswith("Error")
        assert json.loads(rows[bad]["decision"])["error"]["type"] == rows[bad]["error_type"]
    jsonl = [json.loads(line) for line in (out / "decisions.jsonl").read_text().splitlines()]
    assert sorted(j["id"] for j in jsonl) == sorted(rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == 4 and summary["actions"] == {"allow": 2, "review": 2}
    assert sum(summary["errors"].values()) == 2 and summary["missing"] == 0
    assert "4 records" in r.stdout


@pytest.mark.ray
def test_kill_9_mid_run_then_resume_gives_every_input_exactly_once(media, tmp_path):
    out = tmp_path / "out"
    args = [str(media / "many"), "--output", str(out), "--policy", str(media / "policy.yaml"),
            "--part-rows", "1", "--batch-size", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "modpipe.cli.main", "batch", *args, "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 200
        while not list((out / "parts").glob("part-*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    written = pq.read_table(out / "parts", columns=["id"]).num_rows
    assert 1 <= written < 10, "the kill should land mid-run"
    assert not (out / "decisions.parquet").exists()

    r = modpipe_batch(*args)

    assert r.returncode == 0, r.stderr
    ids = [row["id"] for row in records(out)]
    assert sorted(ids) == [f"v{i:02d}.mp4" for i in range(10)]  # none lost, none duplicated
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped"] == written and summary["decided"] == 10 - written
    assert not list((out / "parts").glob(".*.tmp"))

    again = modpipe_batch(*args)  # a finished folder: nothing to do, same output
    assert again.returncode == 0 and json.loads((out / "summary.json").read_text())["decided"] == 0
    assert sorted(row["id"] for row in records(out)) == sorted(ids)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_node_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "gcs_server_port": _free_port(), "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


@pytest.mark.ray
def test_a_manifest_runs_across_a_two_node_cluster(media, tmp_path, two_node_cluster):
    good = media / "mixed" / "good1.mp4"
    manifest = tmp_path / "feed.jsonl"
    manifest.write_text("\n".join([
        json.dumps({"id": "a", "uri": str(good), "user": "u1"}),
        json.dumps({"id": "b", "uri": str(media / "mixed" / "good2.mp4"), "audience": "teen"}),
        json.dumps({"id": "c", "uri": str(media / "mixed" / "notes.txt")}),
        "{broken json",
        json.dumps({"id": "e", "uri": "../does/not/exist.mp4"}),
    ]) + "\n")
    out = tmp_path / "out"
    r = modpipe_batch(str(manifest), "--output", str(out), "--policy", str(media / "policy.yaml"),
                      "--address", two_node_cluster.address, "--concurrency", "2")
    assert r.returncode == 1, r.stderr
    rows = {row["id"]: row for row in records(out)}
    assert sorted(rows) == ["a", "b", "c", "e", "line-4"]
    assert rows["a"]["user"] == "u1" and rows["a"]["action"] == "allow"
    assert rows["b"]["audience"] == "teen" and json.loads(rows["b"]["decision"])["audience"] == "teen"
    assert {rows[k]["action"] for k in ("c", "e", "line-4")} == {"review"}
    assert "not JSON" in rows["line-4"]["error_message"]
