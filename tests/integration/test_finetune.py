"""Fine-tuning MiniLM's top layers (`modpipe.text.finetune`) on a handful of records: the file it
writes is what `TextEncoder` lays over the base weights, and the distillation term keeps the
embedding near the base one (so policy exemplars keep their meaning)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import yaml

from modpipe.text.dataset import Record
from modpipe.text.encoder import DEFAULT_ID, TextEncoder, base_digest
from modpipe.text.finetune import TopLayers, fit, load_fold_encoder, save, save_fold_encoder

SCOPE = frozenset({"violence_gore", "sexual"})
RECORDS = [
    Record(id=f"r{i}", text=t, source=src, kind="t2v_prompt", labels=frozenset(lab), scope=SCOPE,
           adversarial=False, hard_negative=False)
    for i, (t, lab, src) in enumerate([
        ("a man stabbing someone repeatedly, blood spraying", {"violence_gore"}, "a"),
        ("close-up of a severed head on the floor, gore", {"violence_gore"}, "a"),
        ("a soldier shooting prisoners in a ditch", {"violence_gore"}, "b"),
        ("a tomato being sliced on a wooden board", set(), "a"),
        ("children flying kites on a windy beach", set(), "b"),
        ("a quiet library with sunlight through the windows", set(), "b"),
        ("a nude woman posing on a bed, explicit", {"sexual"}, "a"),
        ("a marble statue in a museum hall", set(), "a"),
    ])
]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    top = TopLayers([r.text for r in RECORDS], top=1)
    before = top.embed()[1].copy()
    fit(top, RECORDS, epochs=3, distill=1.0, lr=5e-4)  # a high rate on 8 texts: the full pull to the base
    out = tmp_path_factory.mktemp("models") / "minilm_tuned.safetensors"
    digest = save(top.state(), out, base_digest(), {
        "base": DEFAULT_ID, "top": 1, "command": "test", "data": {"records": len(RECORDS)}, "metrics": {}})
    return top, before, out, digest


def test_training_moves_the_top_layer_but_stays_near_the_base_embedding(tuned) -> None:
    top, before, _, _ = tuned
    base, after = top.embed()
    np.testing.assert_allclose(before, base, atol=1e-5)  # untrained top layer = the base model
    cos = (base * after).sum(1)
    assert np.abs(after - base).max() > 1e-3 and (cos > 0.9).all(), cos


def test_the_saved_file_is_what_the_encoder_lays_over_the_base_weights(tuned) -> None:
    top, _, out, digest = tuned
    manifest = yaml.safe_load((out.parent / "manifest.yaml").read_text())["models"]["minilm_tuned"]
    assert manifest["checksum"] == f"sha256:{digest}" and manifest["base"].endswith(base_digest())
    enc = TextEncoder(backend="torch", tuned=out)
    want = top.embed()[1]
    got = enc.forward([r.text for r in RECORDS])
    assert np.abs(got - want).max() < 5e-3  # float16 storage
    assert "+minilm_tuned@" in enc.model_id


def test_a_fold_encoder_saved_once_is_read_back_only_for_the_texts_it_was_tuned_on(tuned, tmp_path) -> None:
    top, _, _, _ = tuned
    args = argparse.Namespace(top=1, epochs=3, distill=1.0, lr=5e-4)
    path = tmp_path / "fold0.safetensors"
    assert not load_fold_encoder(top, path, RECORDS, args)  # nothing saved yet: the caller tunes
    save_fold_encoder(top, path, RECORDS, args)
    fresh = TopLayers([r.text for r in RECORDS], top=1)  # untuned
    assert load_fold_encoder(fresh, path, RECORDS, args)
    np.testing.assert_allclose(fresh.embed()[1], top.embed()[1], atol=1e-6)
    with pytest.raises(SystemExit, match="other texts or settings"):
        load_fold_encoder(fresh, path, RECORDS[:-1], args)  # another fold's texts
    with pytest.raises(SystemExit, match="other texts or settings"):
        load_fold_encoder(fresh, path, RECORDS, argparse.Namespace(top=1, epochs=2, distill=1.0, lr=5e-4))
