"""Policy tuning: score once into the cache, then metrics, thresholds and diffs from the cache.

A scripted scorer reads its scores from the prompt itself ("sexual=0.9 hate=0.2"), so every
expected figure below can be computed by hand. It is registered like any real scorer and runs
through the real Pipeline, cache, aggregate and decide code.
"""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from modpipe.pipeline import Pipeline
from modpipe.policy import parse_policy
from modpipe.scorers import register
from modpipe.scorers.base import Scorer
from modpipe.settings import Settings
from modpipe.tune.cache import ScoreCache
from modpipe.tune.diff import diff
from modpipe.tune.evaluate import CachedSet, decide_all
from modpipe.tune.labels import parse_item, read_labels
from modpipe.tune.metrics import category_metrics
from modpipe.tune.score import score_items
from modpipe.tune.thresholds import Target, audience_warnings, tune
from modpipe.types import TEXT_MODALITIES, Modality, Score


class ReadParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[str] = ["sexual", "hate"]


@register
class ReadsScoresFromText(Scorer):
    """Scores label L with the number after `L=` in the prompt (0 when absent)."""

    type = "reads_scores"
    modalities = TEXT_MODALITIES
    Params = ReadParams
    version = "v1"  # tests change it to simulate a new model
    scored = 0  # samples scored, over all instances

    @classmethod
    def outputs(cls, params):
        return frozenset(params.labels)

    @property
    def model_id(self):
        return f"reads_scores@{type(self).version}"

    def score(self, samples):
        type(self).scored += len(samples)
        out = []
        for s in samples:
            for label in self.params.labels:
                m = re.search(rf"\b{label}=([0-9.]+)", s.text)
                out.append(Score(self.name, label, float(m.group(1)) if m else 0.0, s.index, s.modality))
        return out


POLICY = """
    # team policy: comments survive tuning
    version: 1
    name: team
    scorers:
      reader: {{type: reads_scores}}
    categories:
      sexual:
        signals: [{{scorer: reader, label: sexual}}]
        review_at: {review}   # human review from here
        block_at: {block}
      hate:
        signals: [{{scorer: reader, label: hate}}]
        review_at: 0.5
        block_at: 0.8
"""


def policy_text(review=0.5, block=0.8):
    return textwrap.dedent(POLICY.format(review=review, block=block))


def items(*rows):
    """rows: (id, text, labels[, scope])."""
    return [parse_item({"id": r[0], "text": r[1], "labels": r[2], **({"label_scope": r[3]} if len(r) > 3 else {})}, "test")
            for r in rows]


def scored_cache(tmp_path, rows, policy=None):
    pipe = Pipeline(parse_policy(policy or policy_text()), Settings())
    cache = ScoreCache(tmp_path / "cache")
    run = score_items(pipe, rows, cache)
    return cache, run


def test_metrics_match_hand_computed_values(tmp_path):
    rows = items(
        ("p1", "sexual=0.9", ["sexual"]), ("p2", "sexual=0.6", ["sexual"]), ("p3", "sexual=0.3", ["sexual"]),
        ("n1", "sexual=0.7", ["none"]), ("n2", "sexual=0.2", ["none"]), ("n3", "sexual=0.1", ["none"]),
        # out of scope for `sexual` (its source labels hate only): not a negative, left out
        ("x1", "sexual=0.95", ["none"], ["hate"]),
    )
    cache, _ = scored_cache(tmp_path, rows)
    cached = CachedSet.load(ScoreCache(cache.path))
    m = {x.category: x for x in category_metrics(cached, decide_all(cached, parse_policy(policy_text())))}["sexual"]
    assert (m.n, m.positives) == (6, 3)
    # review_at 0.5 flags 0.9, 0.7, 0.6: TP 2, FP 1, FN 1, TN 2
    assert (m.review.tp, m.review.fp, m.review.fn, m.review.tn) == (2, 1, 1, 2)
    assert m.review.precision == pytest.approx(2 / 3) and m.review.recall == pytest.approx(2 / 3)
    assert m.review.f1 == pytest.approx(2 / 3)
    # block_at 0.8 flags 0.9 only
    assert (m.block.precision, m.block.recall, m.block.f1) == pytest.approx((1.0, 1 / 3, 0.5))
    # ranking + - + + - -: AP = (1/1 + 2/3 + 3/4) / 3
    assert m.auprc == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    # no negative above any positive except 0.7: at FPR ≤ 5% only the 0.9 positive is caught
    assert m.recall_at_fpr[0.05] == pytest.approx(1 / 3)
    assert m.review_share == pytest.approx(2 / 6)  # 0.7 and 0.6 go to review


def test_cache_is_reused_and_a_new_model_or_preparation_invalidates_it(tmp_path, monkeypatch):
    rows = items(("a", "sexual=0.9", ["sexual"]), ("b", "hate=0.6", ["hate"]),
                 ("c", "sexual=0.9", ["none"]))  # same text as a: scored once
    _, first = scored_cache(tmp_path, rows)
    assert (first.scored, first.reused) == (2, 1)
    before = ReadsScoresFromText.scored
    _, second = scored_cache(tmp_path, rows)
    assert (second.scored, second.reused) == (0, 3) and ReadsScoresFromText.scored == before

    monkeypatch.setattr(ReadsScoresFromText, "version", "v2")  # a new model id
    _, third = scored_cache(tmp_path, rows)
    assert (third.scored, third.reused) == (2, 1)
    # new params (here: another label list) also miss the cache
    other = policy_text().replace("{type: reads_scores}", "{type: reads_scores, params: {labels: [sexual, hate, x]}}")
    _, fourth = scored_cache(tmp_path, rows, other)
    assert fourth.scored == 2
    # and so does a change in what the scorers are given (here: prompt normalisation)
    import modpipe.text.normalize as normalize

    monkeypatch.setattr(normalize, "normalize_prompt", lambda text: [text, text.upper()])
    _, fifth = scored_cache(tmp_path, rows, other)
    assert (fifth.scored, fifth.reused) == (2, 1)


def test_cache_file_is_parquet_with_every_raw_score(tmp_path):
    import pyarrow.parquet as pq

    cache, _ = scored_cache(tmp_path, items(("a", "sexual=0.25 hate=0.5", ["none"])))
    t = pq.read_table(cache.path / "entries.parquet").to_pylist()
    assert len(t) == 1 and t[0]["input_hash"].startswith("sha256:")
    assert json.loads(t[0]["models"]) == {"reader": "reads_scores@v1"}
    assert sorted((s["label"], s["value"]) for s in t[0]["scores"]) == [("hate", 0.5), ("sexual", 0.25)]
    assert not list(cache.path.glob(".*.tmp"))  # atomic writes leave no temp files


def test_threshold_choice_meets_its_target_on_the_held_out_fold(tmp_path):
    rng = np.random.default_rng(7)
    pos = np.clip(rng.normal(0.75, 0.12, 300), 0, 1)
    neg = np.clip(rng.normal(0.35, 0.15, 700), 0, 1)
    rows = items(*[(f"p{i}", f"sexual={v:.4f}", ["sexual"]) for i, v in enumerate(pos)],
                 *[(f"n{i}", f"sexual={v:.4f}", ["none"]) for i, v in enumerate(neg)])
    cache, _ = scored_cache(tmp_path, rows)
    cached = CachedSet.load(ScoreCache(cache.path))
    text, tuned, choices = tune(cached, parse_policy(policy_text()), [Target.parse("precision=0.95")],
                                ["sexual"], policy_text())
    (ch,) = choices
    assert ch.target.level == "block" and ch.new is not None and ch.tune_achieved >= 0.95
    assert ch.heldout.precision >= 0.95  # chosen on one fold, holds on the other
    assert tuned.policy.categories["sexual"].block_at == ch.new
    assert "# human review from here" in text and "comments survive tuning" in text
    assert tuned.policy.categories["hate"].block_at == 0.8  # other categories untouched
    assert audience_warnings(tuned) == []
    teen = text.replace("block_at: 0.8\n", "block_at: 0.8\n    audiences: {teen: {review_at: 0.5, block_at: 0.9}}\n")
    teen = "audiences: [teen]\n" + teen
    assert "looser than the tuned base" in audience_warnings(parse_policy(teen))[0]

    _, _, (rec,) = tune(cached, parse_policy(policy_text()), [Target.parse("review:recall=0.9")],
                        ["sexual"], policy_text())
    assert rec.heldout.recall >= 0.9


def test_unreachable_target_keeps_the_threshold():
    from modpipe.tune.thresholds import choose

    y = np.array([True, False, True, False])
    assert choose(y, np.array([0.5, 0.5, 0.5, 0.5]), Target.parse("precision=0.9")) is None
    with pytest.raises(Exception, match="bad target"):
        Target.parse("precision=2")


def test_policy_diff_lists_exactly_the_flipped_items(tmp_path):
    rows = items(("up", "sexual=0.45", ["none"]), ("harder", "sexual=0.7", ["sexual"]),
                 ("same", "sexual=0.3", ["none"]), ("blocked", "sexual=0.9", ["sexual"]),
                 ("still-review", "sexual=0.55", ["none"]))
    cache, _ = scored_cache(tmp_path, rows)
    cached = CachedSet.load(ScoreCache(cache.path))
    d = diff(cached, parse_policy(policy_text()), parse_policy(policy_text(review=0.4, block=0.6)))
    assert sorted(cached.items[i].id for i in d.flipped) == ["harder", "up"]
    assert dict(d.overall) == {"allow→review": 1, "review→block": 1}
    assert dict(d.per_category["sexual"]) == {"allow→review": 1, "review→block": 1}
    assert "hate" not in d.per_category


def test_labels_file_accepts_the_dev_data_format(tmp_path):
    f = tmp_path / "l.jsonl"
    f.write_text(json.dumps({"id": "i2p:1", "text": "t", "labels": ["violence"],
                             "label_scope": ["violence", "sexual"]}) + "\n"
                 + json.dumps({"id": "v", "uri": "clip.mp4", "labels": ["none"]}) + "\n")
    a, b = read_labels(f)
    assert a.positive("violence_gore") and a.in_scope("sexual") and not a.in_scope("public_figure")
    assert b.kind == "scan" and b.in_scope("anything") and not b.labels
    f.write_text('{"id": 1, "text": "x", "labels": []}\n{"id": 2}\n')
    with pytest.raises(Exception, match=r"l.jsonl:2: give exactly one of 'text'"):
        read_labels(f)


def test_cli_score_report_thresholds_and_diff(tmp_path):
    from typer.testing import CliRunner

    from modpipe.cli.main import app

    pol = tmp_path / "team.yaml"
    pol.write_text(policy_text())
    labels = tmp_path / "labels.jsonl"
    rng = np.random.default_rng(1)
    rows = [{"id": f"p{i}", "text": f"p{i} sexual={v:.3f}", "labels": ["sexual"]} for i, v in enumerate(rng.uniform(0.4, 1, 60))]
    rows += [{"id": f"n{i}", "text": f"n{i} sexual={v:.3f}", "labels": ["none"]} for i, v in enumerate(rng.uniform(0, 0.6, 140))]
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache, run = tmp_path / "cache", CliRunner()

    args = ["tune", "score", "--labels", str(labels), "--cache", str(cache), "--policy", str(pol)]
    first, second = run.invoke(app, args), run.invoke(app, args)
    assert "scored 200, reused 0" in first.output and "scored 0, reused 200" in second.output

    rep = run.invoke(app, ["tune", "report", "--cache", str(cache), "--policy", str(pol),
                           "--html", str(tmp_path / "r.html")])
    assert rep.exit_code == 0 and "AUPRC" in rep.output and "review = expected human-queue share" in rep.output
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 2  # sexual and hate

    tuned = tmp_path / "tuned.yaml"
    th = run.invoke(app, ["tune", "thresholds", "--cache", str(cache), "--policy", str(pol),
                          "--target", "recall=0.9", "--category", "sexual", "--out", str(tuned)])
    assert th.exit_code == 0, th.output
    assert run.invoke(app, ["policy", "validate", str(tuned)]).exit_code == 0

    d = run.invoke(app, ["policy", "diff", str(pol), str(tuned), "--cache", str(cache)])
    assert d.exit_code == 0 and "change overall decision" in d.output
    assert "sexual=" not in d.output  # ids only, never texts, unless --show-text


@register
class Brightness(Scorer):
    """Scores each frame by its mean brightness (a stand-in for a visual model)."""

    type = "brightness"
    modalities = frozenset({Modality.FRAME})

    @classmethod
    def outputs(cls, params):
        return frozenset({"bright"})

    @property
    def model_id(self):
        return "brightness@1"

    def score(self, samples):
        return [Score(self.name, "bright", float(s.image.mean() / 255), s.index, s.modality, s.start, s.end)
                for s in samples]


def test_videos_are_cached_by_file_bytes_and_decided_like_a_scan(tmp_path):
    from modpipe.testing.media import write_video

    dark = np.zeros((64, 96, 3), np.uint8)
    bright = np.full((64, 96, 3), 230, np.uint8)
    write_video(tmp_path / "dark.mp4", [dark] * 24, fps=12)
    write_video(tmp_path / "flash.mp4", [dark] * 12 + [bright] * 12, fps=12)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    pol = parse_policy(textwrap.dedent("""
        version: 1
        name: frames
        scorers: {eye: {type: brightness}}
        categories:
          bright: {signals: [{scorer: eye, label: bright}], review_at: 0.5, block_at: 0.8}
    """))
    rows = [parse_item({"id": n, "uri": str(tmp_path / f"{n}.mp4"), "labels": lab}, "t")
            for n, lab in (("dark", []), ("flash", ["bright"]), ("broken", []))]
    cache = ScoreCache(tmp_path / "cache")
    run = score_items(Pipeline(pol, Settings()), rows, cache)
    assert (run.scored, run.reused) == (3, 0)
    assert score_items(Pipeline(pol, Settings()), rows, cache).reused == 3
    cached = CachedSet.load(ScoreCache(cache.path))
    out = decide_all(cached, pol)
    by_id = {it.id: int(a) for it, a in zip(cached.items, out.overall, strict=True)}
    assert by_id == {"dark": 0, "flash": 2, "broken": 1}  # an undecodable file is review, not allow
