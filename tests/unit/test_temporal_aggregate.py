"""Each aggregation rule on hand-built score lists: seconds from timestamps, not frame counts."""

from __future__ import annotations

import pytest

from modpipe.aggregate.temporal import aggregate
from modpipe.policy.schema import Category
from modpipe.types import Modality, Score

FRAME, SPEECH, OCR = Modality.FRAME, Modality.SPEECH, Modality.OCR


def category(**agg) -> Category:
    return Category.model_validate({
        "signals": [{"scorer": "s", "label": "x"}],
        "review_at": 0.5, "block_at": 0.8, "aggregate": agg,
    })


def track(values: list[float], modality: Modality = FRAME, step: float = 1.0, t0: float = 0.0,
          first: int = 0) -> list[Score]:
    """One score per sample, each lasting `step` seconds."""
    return [Score("s", "x", v, first + i, modality, t0 + i * step, t0 + (i + 1) * step)
            for i, v in enumerate(values)]


def run(cat: Category, scores: list[Score]):  # noqa: ANN201
    return aggregate(cat, cat.thresholds(None), scores)


def test_max_takes_the_worst_sample_and_reports_its_time_span():
    r = run(category(method="max"), track([0.1, 0.2, 0.9, 0.1]))
    assert r.value == 0.9
    assert [(s.start, s.end, s.modality) for s in r.segments] == [(2.0, 3.0, "frame")]


def test_smoothing_window_averages_frames_over_seconds_so_one_noisy_frame_is_tamed():
    cat = category(method="max", window_s=2.0, instant_block=False)
    # a 0.7 blip among zeros, frames every 0.5 s: its ±1 s neighbourhood averages it down
    r = run(cat, track([0, 0, 0, 0.7, 0, 0, 0], step=0.5))
    assert r.value <= 0.7 / 4  # at most a quarter of the blip survives in any 2 s window
    assert r.segments == []


def test_smoothing_does_not_apply_to_text_spans():
    r = run(category(method="max", window_s=2.0, instant_block=False), track([0, 0.7, 0], modality=SPEECH))
    assert r.value == 0.7


def test_topk_mean_needs_several_high_samples():
    assert run(category(method="topk_mean", k=2, instant_block=False), track([0.9, 0.1, 0.1])).value == pytest.approx(0.5)


def test_k_of_n_needs_k_agreeing_samples_within_n_consecutive_ones():
    cat = category(method="k_of_n", k=2, n=3, instant_block=False)
    assert run(cat, track([0.9, 0.1, 0.1, 0.9, 0.1])).value == pytest.approx(0.1)
    assert run(cat, track([0.1, 0.9, 0.1, 0.85, 0.1])).value == pytest.approx(0.85)


def test_min_duration_caps_a_brief_run_below_block_without_instant_block():
    cat = category(method="max", min_duration_s=2.0, instant_block=False)
    brief = run(cat, track([0.1, 0.9, 0.1]))
    assert 0.5 <= brief.value < 0.8 and "shorter than min_duration" in brief.reasons[0]
    lasting = run(cat, track([0.1, 0.9, 0.9, 0.9, 0.1]))
    assert lasting.value == 0.9 and lasting.segments[0].start == 1.0 and lasting.segments[0].end == 4.0


def test_instant_block_lets_one_flashed_frame_block_despite_smoothing_and_min_duration():
    cat = category(method="max", window_s=2.0, min_duration_s=2.0, instant_block=True)
    flash = run(cat, track([0.0, 0.0, 0.95, 0.0, 0.0], step=0.25))
    assert flash.value == 0.95
    assert any("instant_block" in r for r in flash.reasons)
    assert flash.segments[0].start == 0.5 and flash.segments[0].end == 0.75


def test_close_samples_join_one_segment_and_far_ones_do_not():
    cat = category(method="max", gap_s=1.0)
    r = run(cat, track([0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9], step=0.5))
    assert [(s.start, s.end) for s in sorted(r.segments, key=lambda s: s.start)] == [(0.0, 1.5), (3.0, 3.5)]


def test_fusion_boosts_when_another_modality_agrees_on_overlapping_time():
    cat = category(method="max", fusion_boost=0.1)
    speech = track([0.6], modality=SPEECH, t0=2.0, step=2.0)
    ocr_same_time = track([0.55], modality=OCR, t0=3.0, first=10)
    ocr_later = track([0.55], modality=OCR, t0=8.0, first=10)
    agree = run(cat, speech + ocr_same_time)
    assert agree.value == pytest.approx(0.7) and "agrees with ocr" in agree.reasons[-1]
    assert run(cat, speech + ocr_later).value == pytest.approx(0.6)


def test_signal_modalities_and_weights_select_and_scale_scores():
    cat = Category.model_validate({
        "signals": [{"scorer": "s", "label": "x", "modalities": ["speech"], "weight": 0.5}],
        "review_at": 0.5, "block_at": 0.8,
    })
    r = run(cat, track([1.0], modality=SPEECH) + track([1.0], modality=FRAME, first=5))
    assert r.value == 0.5 and {s.modality for s in r.segments} == {"speech"}


def test_prompts_have_no_time_and_their_top_samples_are_the_evidence():
    scores = [Score("s", "x", v, i, Modality.PROMPT) for i, v in enumerate([0.2, 0.9])]
    r = run(category(), scores)
    assert r.value == 0.9 and r.segments[0].start is None and r.segments[0].score == 0.9


def test_the_shortcut_for_untimed_scores_under_review_agrees_with_the_full_path():
    # untimed scores below review_at (most categories of most prompts) take a shortcut that
    # builds no tracks until their segments are asked for: it must give the full path's answer
    import random

    from modpipe.aggregate.temporal import index_scores

    rng = random.Random(0)
    cat = Category.model_validate({
        "signals": [{"scorer": "s", "label": "x"}, {"scorer": "t", "label": "y", "weight": 0.7},
                    {"scorer": "t", "label": "z", "modalities": ["image"]}],
        "review_at": 0.5, "block_at": 0.8, "aggregate": {"fusion_boost": 0.1},
    })
    th = cat.thresholds(None)
    shortcuts = 0
    for _ in range(300):
        scores = []
        for i in range(rng.randint(0, 6)):  # mostly prompts and images; now and then a timed frame
            mod = rng.choice([Modality.PROMPT, Modality.IMAGE] * 4 + [FRAME])
            timing = (float(i), i + 1.0) if mod == FRAME else ()
            value = round(rng.random(), 3)
            scores.append(Score(rng.choice("st"), rng.choice("xyz"), value, i, mod, *timing))
        fast, full = aggregate(cat, th, index_scores(scores)), aggregate(cat, th, scores, fast=False)
        assert (fast.value, fast.reasons, fast.segments) == (full.value, full.reasons, full.segments)
        shortcuts += fast.deferred is not None
    assert shortcuts > 50  # the shortcut was taken often enough for the comparison to mean something
