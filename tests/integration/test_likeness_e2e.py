"""Likeness end to end: real photos, real dlib models, the CLI for enroll / grant / revoke.

A video showing an enrolled public figure blocks for a user without consent, is allowed after
`modpipe likeness grant`, and blocks again after `modpipe likeness revoke` — seen by a Pipeline
that stays up the whole time (as a server would). The same for a prompt naming an imported one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from modpipe.likeness.registry import RECHECK_S
from modpipe.pipeline import Pipeline
from modpipe.policy import load_policy
from modpipe.testing.media import photo, scene, write_video

POLICY = """
version: 1
name: likeness-only
sampling: {fps: 2.0, change_aware: false}
extraction: {asr: false, ocr: false}
scorers:
  names: {type: name_match}
  faces: {type: face_likeness, params: {upsample: 1}}
categories:
  public_figure:
    signals:
      - {scorer: names, label: match}
      - {scorer: faces, label: match}
    review_at: 0.5
    block_at: 0.75
"""


def likeness(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "modpipe.cli.main", "likeness", *args],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    if args[0] in ("enroll", "import-names"):  # consent is read live; a running pipeline sees new
        time.sleep(RECHECK_S)                  # people within RECHECK_S (registry.recent_version)
    return r.stdout


@pytest.fixture
def pipe(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    p = Pipeline.from_policy(load_policy(tmp_path / "p.yaml"))
    yield p
    p.close()


@pytest.fixture
def faces(shared_data):
    return shared_data / "media/images/deepface"


def test_enroll_needs_exactly_one_face_per_photo_and_names_the_bad_one(faces, tmp_path):
    import numpy as np
    from PIL import Image

    Image.fromarray(scene()).save(tmp_path / "landscape.png")
    both = np.concatenate([photo(faces / "img1.jpg", 320, 360), photo(faces / "img13.jpg", 320, 360)], axis=1)
    Image.fromarray(both).save(tmp_path / "two.png")
    for bad, what in (("landscape.png", "no face"), ("two.png", "2 faces")):
        r = subprocess.run([sys.executable, "-m", "modpipe.cli.main", "likeness", "enroll", "--id", "x",
                            "--name", "X", str(faces / "img1.jpg"), str(tmp_path / bad)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and f"{bad}: found {what}" in r.stderr
    assert likeness("list") == ""  # nothing half-enrolled


def test_a_video_of_an_enrolled_figure_blocks_until_granted_and_again_after_revoke(pipe, faces, tmp_path):
    out = likeness("enroll", "--id", "jolie", "--name", "Angelina Jolie", str(faces / "img1.jpg"))
    assert "1 face(s)" in out
    frames = [scene(t=i / 8) for i in range(8)]                       # 1 s of landscape
    frames += [photo(faces / "img2.jpg", face_height=150, bg=scene(t=1)) for _ in range(16)]  # 2 s: her
    video = write_video(tmp_path / "clip.mp4", frames, fps=8)

    d = pipe.scan(video, user="bob")
    assert d.action == "block"
    [seg, *_] = d.categories["public_figure"].segments
    assert seg.scorer == "faces" and seg.evidence["person_id"] == "jolie"
    assert seg.evidence["consent"] == "none" and seg.evidence["distance"] < 0.5
    assert seg.start >= 0.9 and seg.end <= 3.1 and len(seg.evidence["box"]) == 4

    likeness("grant", "--person", "jolie", "--user", "bob")
    d = pipe.scan(video, user="bob")
    assert d.action == "allow"
    assert any("Angelina Jolie (jolie) matched by faces" in r and "allowed by consent grant" in r for r in d.reasons)
    assert pipe.scan(video, user="carol").action == "block"   # consent is per user

    likeness("revoke", "--person", "jolie", "--user", "bob")
    d = pipe.scan(video, user="bob")
    assert d.action == "block"
    assert d.categories["public_figure"].segments[0].evidence["consent"] == "revoked"
    assert [e["action"] for e in map(json.loads, likeness("audit", "--person", "jolie").splitlines())] == [
        "enroll", "grant", "revoke"]


def test_a_40px_face_in_a_640x360_video_is_found_and_recognised(pipe, faces, tmp_path):
    likeness("enroll", "--id", "jolie", "--name", "Angelina Jolie", str(faces / "img1.jpg"))
    frames = [photo(faces / "img2.jpg", 640, 360, face_height=40, bg=scene(t=i / 8)) for i in range(8)]
    d = pipe.scan(write_video(tmp_path / "small.mp4", frames, fps=8), user="bob")
    seg = d.categories["public_figure"].segments[0]
    x0, y0, x1, y1 = seg.evidence["box"]
    assert y1 - y0 <= 45 and seg.evidence["person_id"] == "jolie"
    assert d.categories["public_figure"].action in ("review", "block")


def test_another_person_is_not_matched(pipe, faces):
    from modpipe.ingest.images import load_image

    likeness("enroll", "--id", "jolie", "--name", "Angelina Jolie", str(faces / "img1.jpg"))
    same = pipe.gate("a portrait photo", user="bob", images=[faces / "img4.jpg"])
    assert same.action == "block"
    for other in ("img8.jpg", "img13.jpg", "img24.jpg"):  # Johansson, Zuckerberg, Pichai
        d = pipe.gate("a portrait photo", user="bob", images=[load_image(faces / other)])
        assert d.action == "allow", other
        assert d.categories["public_figure"].score < 0.2


def test_a_prompt_naming_an_imported_figure_blocks_until_granted_to_everyone(pipe, tmp_path):
    names = tmp_path / "names.jsonl"
    names.write_text("\n".join(json.dumps(r) for r in [
        {"id": "name:rosalind", "name": "Rosalind Okonkwo-Vale", "aliases": ["Roz Vale"]},
        {"id": "name:teodor", "name": "Teodor Brannigan", "aliases": []},
    ]) + "\n")
    assert "imported 2 people" in likeness("import-names", str(names))

    d = pipe.gate("a video of r0z v a l e dancing in the rain", user="bob")
    assert d.action == "block"
    ev = d.categories["public_figure"].segments[0].evidence
    assert (ev["person_id"], ev["matched"].replace(" ", ""), ev["consent"]) == ("name:rosalind", "rozvale", "none")
    assert pipe.gate("a video of a rose bush in the rain", user="bob").action == "allow"

    likeness("grant", "--person", "name:rosalind", "--everyone")
    assert pipe.gate("a video of Roz Vale dancing", user="bob").action == "allow"
    assert pipe.gate("Roz Vale and Teodor Brannigan", user="bob").action == "block"  # one consented, one not
    likeness("revoke", "--person", "name:rosalind", "--everyone")
    assert pipe.gate("a video of Roz Vale dancing", user="bob").action == "block"
