"""The text scorer inside the gate: heads swapped per fold, its folded arithmetic written out the
plain way, short speech fragments, and which samples a scorer runs on (real MiniLM)."""

from __future__ import annotations

import textwrap

import pytest

from modpipe.pipeline import Pipeline
from modpipe.policy import parse_policy


def test_heads_swapped_into_a_scorer_built_without_them_are_used(pipeline) -> None:
    # the evaluation swaps heads trained per fold into the policy's text scorers, some of which
    # (speech/OCR text) were built with heads: null
    no_heads = textwrap.dedent("""
        version: 1
        name: no-heads
        scorers:
          text:
            type: text_embedding
            params:
              heads: null
              labels: {violence_gore: {positive: [kill them all]}}
        categories:
          violence:
            signals: [{scorer: text, label: violence_gore}]
            review_at: 0.5
            block_at: 0.8
    """)
    shipped = pipeline.scorers["text"]
    bare = Pipeline(parse_policy(no_heads), resources=pipeline.resources).scorers["text"]
    emb = shipped.encoder.encode(["a man stabbing a woman over and over, blood pouring from the wounds"])
    assert "head" not in bare.score_embeddings(emb)["violence_gore"][1][0]
    bare.heads = shipped.heads
    vals, evs = bare.score_embeddings(emb)["violence_gore"]
    head = shipped.heads.predict(emb)[0, shipped.heads.labels.index("violence_gore")]
    assert evs[0]["head"] == pytest.approx(float(head), abs=1e-4) and vals[0] >= head > 0.75


FOLDED = textwrap.dedent("""
    version: 1
    name: folded-arithmetic
    scorers:
      text:
        type: text_embedding
        params:
          heads: null
          labels:
            both: {positive: [kill them all, blow up the station], negative: [kill the lights]}
            positive_only: {positive: [a naked body]}
            head_only: {}
            no_head: {positive: [a cat], negative: [a dog]}
    categories:
      c:
        signals: [{scorer: text, label: both}, {scorer: text, label: positive_only},
                  {scorer: text, label: head_only}, {scorer: text, label: no_head}]
        review_at: 0.5
        block_at: 0.8
""")


@pytest.mark.parametrize("with_mlp", [True, False])
def test_the_scorers_folded_arithmetic_equals_heads_and_exemplars_written_out(pipeline, with_mlp) -> None:
    """The scorer folds calibration, the head average and GELU's constants into its weights
    (`FoldedHeads`) to run few numpy calls per prompt; here the score is computed the plain way:
    max(head probability × scale, exemplar sigmoid), times the negative-exemplar mute."""
    import numpy as np

    from modpipe.text.heads import Heads
    from modpipe.text.mlp_head import MLPArrays

    sc = Pipeline(parse_policy(FOLDED), resources=pipeline.resources).scorers["text"]
    rng = np.random.default_rng(0)
    labels, dim, hidden = ["head_only", "both", "positive_only", "elsewhere"], sc.encoder.dim, 16
    mlp = MLPArrays(*(rng.normal(0, .3, shape).astype(np.float32) for shape in
                      ((dim, hidden), (hidden,), (hidden, len(labels)), (len(labels),)))) if with_mlp else None
    heads = Heads(labels, rng.normal(0, .5, (4, dim)), rng.normal(0, 1, 4), rng.uniform(.5, 2, 4),
                  rng.normal(0, 1, 4), mlp=mlp)
    sc.heads = heads
    texts = ["kill the lights", "kill them all", "a naked body", "a dog", "a cat on a mat", "sunset"]
    emb = np.concatenate([sc.encoder.encode(texts), rng.normal(size=(40, dim)).astype(np.float32)])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scale = rng.uniform(0, 1, len(emb)).astype(np.float32)
    got = sc.score_embeddings(emb, scale)

    p, probs = sc.params, heads.predict(emb)
    muted_somewhere = False
    for label in sc.labels:
        ex = p.labels[label]
        pos = sc.encoder.encode(ex.positive) @ emb.T if ex.positive else None
        neg = sc.encoder.encode(ex.negative) @ emb.T if ex.negative else None
        head = probs[:, labels.index(label)] * scale if label in labels else np.zeros(len(emb))
        ex_score = (1 / (1 + np.exp(-p.exemplar_scale * (pos.max(0) - p.exemplar_center)))
                    if pos is not None else 0)
        mute = np.ones(len(emb))
        if neg is not None:
            gap = neg.max(0) - np.maximum(pos.max(0) if pos is not None else 0, 0) - p.negative_margin
            mute = np.where(neg.max(0) > p.exemplar_center - 0.1, np.clip(1 - 10 * gap, 0, 1), 1)
        vals, evs = got[label]
        np.testing.assert_allclose(vals, np.maximum(head, ex_score) * mute, atol=2e-5)
        for i, ev in enumerate(evs):
            assert ("head" in ev) == (label in labels)
            if pos is not None:
                assert ev["exemplar"] == ex.positive[int(pos[:, i].argmax())]
            if mute[i] < 1:
                muted_somewhere = True
                assert ev["negative_exemplar"] == ex.negative[int(neg[:, i].argmax())]
    assert muted_somewhere  # "kill the lights" mutes `both`


def test_short_speech_fragments_get_damped_head_scores_but_prompts_do_not(pipeline):
    """`head_full_words`: a 4-word ASR fragment keeps 4/6 of its head score; the same words
    as a prompt keep all of it, and exemplar scores are never damped."""
    from modpipe.types import Modality, Sample

    text = "Welcome back to Nookitun."  # tiny.en's mishearing of a benign cooking intro
    samples = [Sample(0, Modality.SPEECH, 0.0, 1.5, text=text), Sample(1, Modality.PROMPT, text=text)]
    scorer = pipeline.scorers["text"]
    assert scorer.params.head_full_words == 6
    by = {(s.sample, s.label): s for s in scorer.score(samples)}
    for label in ("hate", "terrorism", "sexual"):
        speech, prompt = by[(0, label)], by[(1, label)]
        assert speech.evidence["head"] == pytest.approx(prompt.evidence["head"] * 4 / 6, abs=1e-3)
        assert speech.evidence.get("exemplar_cos") == prompt.evidence.get("exemplar_cos")


def test_a_scorer_runs_only_on_samples_some_signal_reads(pipeline) -> None:
    """`spoken` feeds categories from speech and on-screen text only, so a prompt skips it;
    tuning caches ask for every modality so they outlive a policy edit."""
    samples = pipeline.gate_samples("brothers, take up arms and kill the infidels")
    scorers = {s.scorer for s in pipeline.score_samples(samples)[0]}
    assert "text" in scorers and "spoken" not in scorers
    every = {s.scorer for s in pipeline.score_samples(samples, every_modality=True)[0]}
    assert "spoken" in every
