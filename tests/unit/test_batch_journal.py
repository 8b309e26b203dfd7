"""The batch output folder and INPUT resolution, without Ray: what makes resume exactly-once."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from modpipe.batch.inputs import resolve_inputs
from modpipe.batch.records import error_row, schema
from modpipe.batch.store import OutputDir
from modpipe.errors import ConfigError, InputError


def test_a_folder_lists_every_visible_file_with_ids_relative_to_it(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"")
    (tmp_path / "b.txt").write_text("")
    (tmp_path / ".hidden").write_text("")
    assert [i.id for i in resolve_inputs(tmp_path)] == ["a/x.mp4", "b.txt"]
    assert [i.id for i in resolve_inputs(f"{tmp_path}/**/*.mp4")] == [f"{tmp_path}/a/x.mp4"]


def test_a_manifest_keeps_bad_lines_as_inputs_and_refuses_duplicate_ids(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "uri": "v.mp4", "user": "u1", "audience": "teen"}\n\n{oops\n{"id": "c"}\n')
    a, bad, c = resolve_inputs(m)
    assert (a.id, a.uri, a.user, a.audience) == ("a", str(tmp_path / "v.mp4"), "u1", "teen")
    assert (bad.id, bad.error_type) == ("line-3", "InputError") and "not JSON" in bad.error_message
    assert c.id == "c" and "uri" in c.error_message
    m.write_text('{"id": "a", "uri": "1.mp4"}\n{"id": "a", "uri": "2.mp4"}\n')
    with pytest.raises(InputError, match="duplicate ids"):
        resolve_inputs(m)
    with pytest.raises(InputError, match="matched no files"):
        resolve_inputs(f"{tmp_path}/*.nothing")


def rows(*ids: str) -> list[dict]:
    return [error_row({"id": i, "uri": f"/v/{i}"}, message="x", error_type="MediaError") for i in ids]


def test_parts_are_atomic_and_consolidation_keeps_one_record_per_id(tmp_path):
    out = OutputDir(tmp_path, schema(["sexual"]))
    (out.parts / ".part-killed.parquet.tmp").write_bytes(b"half")  # a kill -9 mid-write
    out.write_part(rows("a", "b"))
    out.write_part(rows("b", "c"))  # a duplicate can never reach the final output
    assert OutputDir(tmp_path, out.schema).done_ids() == {"a", "b", "c"}
    assert not list(out.parts.glob(".*.tmp"))  # leftovers of killed runs are cleared on open

    counts = out.consolidate({"parquet", "jsonl"})

    assert counts["records"] == 3 and counts["actions"] == {"review": 3}
    assert counts["errors"] == {"MediaError": 3} and counts["categories"] == {"sexual": {"none": 3}}
    assert pq.read_table(tmp_path / "decisions.parquet").column("id").to_pylist() == ["a", "b", "c"]
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["a", "b", "c"]


def test_a_folder_belongs_to_one_policy(tmp_path):
    out = OutputDir(tmp_path, schema(["sexual"]))
    out.claim("default", "sha256:aaa")
    out.claim("default", "sha256:aaa")
    with pytest.raises(ConfigError, match="new --output"):
        out.claim("default", "sha256:bbb")


def test_the_model_free_preparer_loads_no_weights_and_fails_closed(tmp_path):
    from modpipe.pipeline import Pipeline
    from modpipe.policy import load_policy
    from modpipe.testing.media import scene, write_video

    video = write_video(tmp_path / "v.mp4", [scene(160, 96, t=k / 6) for k in range(12)], fps=6)
    preparer = Pipeline(load_policy(), models=False)  # what each Ray decode task builds
    assert preparer.scorers == {}
    prepared = preparer.prepare_scan(video, id="v")
    assert prepared.error is None and len(prepared.frames) >= 2
    d = preparer.finish_scan(prepared)  # by mistake: no scorer ran, so it must not allow
    assert d.action != "allow" and {s.status for s in d.scorers} == {"unavailable"}
