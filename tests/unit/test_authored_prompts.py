"""The project's own training prompts (models/training/authored_t2v.jsonl) load as records that
teach every gate category, in scope for all of them, with hard negatives beside the positives."""

from __future__ import annotations

import json

import pytest

from modpipe.text.dataset import CATEGORIES, authored_path, load_authored, parse_record, read_jsonl


def test_authored_prompts_cover_every_category_with_hard_negatives() -> None:
    records = load_authored()
    assert len(records) >= 2000 and len({r.id for r in records}) == len(records)
    for cat in CATEGORIES:
        assert all(cat in r.scope for r in records)
        if cat != "public_figure":  # none names a real person: negatives only
            assert sum(cat in r.labels for r in records) >= 150
    assert sum(r.hard_negative for r in records) >= 600
    assert not any(r.labels and r.hard_negative for r in records)


def test_harassment_negatives_come_only_from_sources_that_vouch_for_every_category() -> None:
    """No public source labels harassment; a benign record counts as a harassment negative only
    when its source annotates all the other categories (benign video-prompt sets do)."""
    vouched = parse_record({"id": "1", "text": "a cat", "labels": ["none"],
                       "label_scope": ["sexual", "terrorism", "self_harm", "public_figure", "violence", "hate"]})
    partial = parse_record({"id": "2", "text": "lol", "labels": ["none"], "label_scope": ["hate"]})
    unsafe = parse_record({"id": "3", "text": "x", "labels": ["violence"],
                      "label_scope": ["sexual", "terrorism", "self_harm", "public_figure", "violence", "hate"]})
    assert "harassment" in vouched.scope
    assert "harassment" not in partial.scope and "harassment" not in unsafe.scope


def test_a_broken_line_names_the_file_and_line(tmp_path) -> None:
    good = json.loads(authored_path().open().readline())
    bad = tmp_path / "mine.jsonl"
    bad.write_text(json.dumps(good) + "\n" + '{"text": "no id"}\n')
    with pytest.raises(ValueError, match=r"mine\.jsonl:2"):
        read_jsonl(bad)
