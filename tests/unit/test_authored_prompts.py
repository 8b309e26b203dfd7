"""The project's own training prompts (models/training/authored_t2v.jsonl) load as records that
teach every gate category, in scope for all of them, with hard negatives beside the positives.
Only the ninth batch annotates illegal_activity: an unsafe text of the earlier batches is out of
its scope (nobody asked whether it shows a crime), a benign one is a negative."""

from __future__ import annotations

import json

import pytest

from modpipe.text.dataset import CATEGORIES, authored_path, load_authored, parse_record, read_jsonl


def test_authored_prompts_cover_every_category_with_hard_negatives() -> None:
    records = load_authored()
    assert len(records) >= 2000 and len({r.id for r in records}) == len(records)
    # a benign text is a negative (its authors judged it safe); an unsafe one is in scope when labelled so
    assert all(("illegal_activity" in r.scope) == (not r.labels or "illegal_activity" in r.labels) for r in records)
    assert sum("illegal_activity" in r.labels for r in records) >= 60
    for cat in (c for c in CATEGORIES if c != "illegal_activity"):
        assert all(cat in r.scope for r in records)
        if cat != "public_figure":  # none names a real person: negatives only
            assert sum(cat in r.labels for r in records) >= 150
    assert sum(r.hard_negative for r in records) >= 600
    assert not any(r.labels and r.hard_negative for r in records)


def test_harassment_negatives_come_only_from_sources_that_vouch_for_them() -> None:
    """No public source labels harassment (nor illegal activity in chat). Benign records count
    as negatives for both when their source annotates every other category, or when they are
    posts annotators judged neither hateful nor suicidal with no vote for 'offensive'; anything
    else stays out of scope."""
    full = ["sexual", "terrorism", "self_harm", "public_figure", "violence", "hate"]

    def scope(**r) -> frozenset[str]:
        return parse_record({"id": "1", "text": "t", **r}).scope

    assert "harassment" in scope(labels=["none"], label_scope=full)
    assert {"harassment", "illegal_activity"} <= scope(labels=["none"], label_scope=["hate"], kind="social_text",
                                                       meta={"votes_hate": 0, "votes_offensive": 0, "votes_neither": 3})
    assert "harassment" not in scope(labels=["none"], label_scope=["hate"], kind="social_text",
                                     meta={"votes_hate": 0, "votes_offensive": 1, "votes_neither": 2})
    assert "harassment" not in scope(labels=["none"], label_scope=["terrorism"], kind="social_text")
    assert "harassment" not in scope(labels=["none"], label_scope=["hate"], kind="t2i_prompt")
    assert "harassment" not in scope(labels=["violence"], label_scope=full)


def test_a_broken_line_names_the_file_and_line(tmp_path) -> None:
    good = json.loads(authored_path().open().readline())
    bad = tmp_path / "mine.jsonl"
    bad.write_text(json.dumps(good) + "\n" + '{"text": "no id"}\n')
    with pytest.raises(ValueError, match=r"mine\.jsonl:2"):
        read_jsonl(bad)
