"""The project's own training prompts (models/training/authored_t2v.jsonl) load as records that
teach every gate category, in scope for all of them, with hard negatives beside the positives."""

from __future__ import annotations

import json

import pytest

from modpipe.text.dataset import CATEGORIES, authored_path, load_authored, read_jsonl


def test_authored_prompts_cover_every_category_with_hard_negatives() -> None:
    records = load_authored()
    assert len(records) == 1200 and len({r.id for r in records}) == 1200
    for cat in CATEGORIES:
        assert all(cat in r.scope for r in records)
        if cat != "public_figure":  # none names a real person: negatives only
            assert sum(cat in r.labels for r in records) >= 100
    assert sum(r.hard_negative for r in records) >= 400
    assert not any(r.labels and r.hard_negative for r in records)


def test_a_broken_line_names_the_file_and_line(tmp_path) -> None:
    good = json.loads(authored_path().open().readline())
    bad = tmp_path / "mine.jsonl"
    bad.write_text(json.dumps(good) + "\n" + '{"text": "no id"}\n')
    with pytest.raises(ValueError, match=r"mine\.jsonl:2"):
        read_jsonl(bad)
