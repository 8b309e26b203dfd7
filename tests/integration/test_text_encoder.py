"""The MiniLM encoder runs the same weights on onnxruntime (default) or eager torch.

The ONNX file is exported once into the model cache and checked against torch before use; if the
export cannot be made the encoder says so in the log and runs on torch, never on something else.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from modpipe.errors import ModelUnavailableError
from modpipe.text.encoder import TextEncoder, chunks

TEXTS = [
    "a golden retriever running through sunflowers at sunset",
    "kill the lights",
    "a masked fighter recruiting young men to join the jihad",
    "",  # empty text still gets an embedding (the [CLS] [SEP] pair)
    "ünïcödé ✓ " * 40,  # longer than max_length: truncated the same way by both backends
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    cache = tmp_path_factory.mktemp("model-cache")
    return TextEncoder(backend="onnx", cache_dir=cache), TextEncoder(backend="torch"), cache


def test_onnx_and_torch_give_the_same_unit_embeddings(both):
    onnx, torch_, cache = both
    assert (onnx.backend, torch_.backend) == ("onnx", "torch")
    assert list(cache.glob("minilm-*.onnx")), "the export is cached for the next process"
    a, b = onnx.forward(TEXTS, batch_size=2), torch_.forward(TEXTS, batch_size=2)
    assert a.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.abs(a - b).max() < 1e-4
    # the same model id either way: cached embeddings and decisions stay comparable
    assert onnx.model_id == torch_.model_id


def test_batching_does_not_change_an_embedding(both):
    onnx, _, _ = both
    alone = np.stack([onnx.forward([t])[0] for t in TEXTS])
    assert np.abs(onnx.forward(TEXTS, batch_size=64) - alone).max() < 1e-5


def test_a_cached_export_is_reused_without_exporting_again(both, monkeypatch):
    _, _, cache = both
    monkeypatch.setattr(TextEncoder, "_export", lambda self, target: pytest.fail("exported again"))
    assert TextEncoder(backend="onnx", cache_dir=cache).backend == "onnx"


def test_a_damaged_cached_export_is_made_again(tmp_path):
    (tmp_path / f"minilm-{TextEncoder(backend='torch').digest[:16]}.onnx").write_bytes(b"truncated")
    enc = TextEncoder(backend="onnx", cache_dir=tmp_path)
    assert enc.backend == "onnx"
    assert enc.forward(["kill the lights"]).shape == (1, 384)


def test_an_export_that_cannot_be_written_falls_back_to_torch_and_says_so(tmp_path, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="modpipe.text.encoder"):
        enc = TextEncoder(backend="onnx", cache_dir=blocked)
    assert enc.backend == "torch"
    assert "onnx backend unavailable" in caplog.text
    assert enc.forward(["kill the lights"]).shape == (1, 384)


def test_a_long_text_is_also_read_in_chunks_of_the_sentences_beyond_the_first_window(both):
    onnx, _, _ = both
    sentence = "a quiet village street at dawn with birds singing and bread in the bakery window. "  # 15 words
    n = len(sentence)
    lead = sentence * 12
    dog = "a dog sleeps by the fire in the warm evening light."
    text = lead + "a man is stabbed to death. " + dog + " " + dog
    short, long = onnx.encode_windows(["kill the lights", text])
    assert short.shape == (1, 384)  # a text within max_length is read whole, once
    (wins,) = onnx.windows([text])
    first_end = wins[0].offsets[-2][1]  # the first 128 tokens end inside the 8th sentence
    assert 7 * n < first_end < 8 * n
    # sentences 8-12 and the rest, in chunks of at least 20 words: (8, 9) (10, 11) (12, stab) (dog, dog)
    assert chunks(text, after=first_end) == [
        lead[7 * n:9 * n].strip(), lead[9 * n:11 * n].strip(),
        lead[11 * n:].strip() + " a man is stabbed to death.", dog + " " + dog]
    assert long.shape == (5, 384) and len(wins) == 5
    np.testing.assert_allclose(long[0], onnx.encode([text])[0], atol=1e-6)
    np.testing.assert_allclose(long[-1], onnx.encode([dog + " " + dog])[0], atol=1e-5)
    onnx.clear_memo()  # unmemoised, `encode` runs the first window only, the same row
    np.testing.assert_allclose(onnx.encode([text, "kill the lights"]), np.stack([long[0], short[0]]), atol=1e-5)


def test_a_chunk_longer_than_the_window_is_cut_into_overlapping_windows(both):
    onnx, _, _ = both
    run_on = ", ".join(f"a red balloon number {i} drifts over the harbour" for i in range(30))
    (wins,) = onnx.windows([run_on])
    assert [len(w.ids) for w in wins[:2]] == [128, 64] and len(wins) > 6


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown text backend"):
        TextEncoder(backend="tensorrt")


# ---------------------------------------------------------------- the gate's fine-tuned top layers

def _tuned_copy(tmp_path, base_sha256: str, scale: float = 1.0):
    """A copy of the shipped tuned layers with another base checksum and/or scaled weights."""
    from safetensors.torch import load_file, save_file

    from modpipe.text.encoder import default_tuned

    shipped = default_tuned()
    if shipped is None:
        pytest.skip("no tuned layers shipped (models/minilm_tuned.safetensors)")
    out = tmp_path / "tuned.safetensors"
    save_file({k: v * scale for k, v in load_file(str(shipped)).items()}, str(out),
              metadata={"base_sha256": base_sha256, "base_id": "test"})
    return out


def _policy_exemplars() -> list[str]:
    """Every exemplar phrase of the default policy's text scorers (prompts and speech/OCR)."""
    from modpipe.policy import load_policy
    from modpipe.scorers.text_embedding import TextEmbeddingParams

    specs = [sc for sc in load_policy().policy.scorers.values() if sc.type == "text_embedding"]
    return [phrase for sc in specs for ex in TextEmbeddingParams.model_validate(sc.params).labels.values()
            for phrase in ex.positive + ex.negative]


def test_tuned_layers_stay_close_to_the_base_embedding_so_exemplars_keep_their_meaning(both):
    """The policy's exemplars and their cosine thresholds were written against the base
    embedding: the tuned layers may move each phrase only so far. Measured over the 150 phrases:
    mean 0.952, lowest 0.876 ("how were Black Americans treated under the Jim Crow laws?") with
    all 6 layers tuned at distillation 0.1; 0.979 / 0.923 with the top 4 at 0.3, 0.994 / 0.981
    with the top 2 at 1.0. The exemplar tests (test_gate, test_scan) check that the phrases still
    steer decisions; the held-out runs in the README score prompts with the exemplars."""
    onnx, _, _ = both
    base = TextEncoder(backend="torch", tuned=None)
    if onnx.tuned is None:
        pytest.skip("no tuned layers shipped")
    assert onnx.model_id != base.model_id and "+minilm_tuned" in onnx.model_id
    phrases = _policy_exemplars()
    assert len(phrases) > 100
    cos = (onnx.forward(phrases) * base.forward(phrases)).sum(1)
    assert cos.mean() > 0.94 and cos.min() > 0.85 and (cos < 0.99999).any(), (cos.mean(), cos.min())


def test_tuned_layers_made_for_other_base_weights_are_refused(tmp_path):
    bad = _tuned_copy(tmp_path, "0" * 64)
    with pytest.raises(ModelUnavailableError, match="made for base weights sha256:000000000000"):
        TextEncoder(backend="torch", tuned=bad)


def test_a_tuned_file_changes_the_embedding_and_the_model_id(tmp_path):
    from modpipe.text.encoder import base_digest

    scaled = _tuned_copy(tmp_path, base_digest(), scale=0.5)  # same names, other values
    enc = TextEncoder(backend="torch", tuned=scaled)
    ref = TextEncoder(backend="torch")
    assert enc.model_id.startswith("sentence-transformers/all-MiniLM-L6-v2+tuned@") and enc.model_id != ref.model_id
    assert np.abs(enc.forward(TEXTS[:2]) - ref.forward(TEXTS[:2])).max() > 1e-2


def test_an_unreadable_tuned_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "tuned.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelUnavailableError, match="unreadable"):
        TextEncoder(backend="torch", tuned=bad)


def test_the_training_cache_gives_the_windows_the_gate_reads_and_keeps_them(both, tmp_path, monkeypatch):
    from modpipe.text.dataset import EmbeddingCache

    onnx, _, _ = both
    texts = ["kill the lights", "a calm harbour at dawn with gulls over the boats. " * 14 + "then a car bomb explodes"]
    rows, owner = EmbeddingCache(onnx, tmp_path).encode_windows(texts)
    want = onnx.encode_windows(texts)
    assert owner.tolist() == [0] + [1] * len(want[1])
    np.testing.assert_allclose(rows, np.concatenate(want), atol=1e-5)
    monkeypatch.setattr(onnx, "forward_windows", lambda *a, **k: pytest.fail("embedded again"))
    again, _ = EmbeddingCache(onnx, tmp_path).encode_windows(texts)  # from the file on disk
    np.testing.assert_allclose(again, rows, atol=1e-6)


def test_a_held_out_run_scores_exemplars_embedded_by_its_own_encoder(pipeline):
    """`finetune --compare` embeds the held-out prompts with an encoder tuned without them; the
    policy's exemplars must come from that same encoder, or their cosines compare two spaces.
    `TextPath.score(exemplars=...)` swaps them in for one call and puts the scorer's own back."""
    from modpipe.text.evaluate import TextPath

    path = TextPath(pipeline)
    scorer = path.text[0]
    phrases = path.exemplar_texts()
    assert len(phrases) == sum(len(sc.exemplar_texts) for sc in path.text) > 100
    own = scorer.exemplar_embeddings.copy()
    prompts = ["a lake at dawn, mist over the water"]
    emb = scorer.encoder.encode(prompts)
    as_shipped = path.score(prompts, emb, np.zeros(1, int), 1)
    same = path.score(prompts, emb, np.zeros(1, int), 1, exemplars=scorer.encoder.encode(phrases))
    assert all(np.allclose(as_shipped[c], same[c], atol=1e-5) for c in as_shipped)
    assert max(v[0] for v in as_shipped.values()) < 0.2
    # every exemplar replaced by the prompt itself: every exemplar-fed category now fires on it
    mirrored = path.score(prompts, emb, np.zeros(1, int), 1, exemplars=np.repeat(emb, len(phrases), axis=0))
    assert mirrored["terrorism"][0] > 0.9 and mirrored["self_harm"][0] > 0.9
    np.testing.assert_array_equal(scorer.exemplar_embeddings, own)  # the scorer's own bank is back
    with pytest.raises(ValueError, match="exemplar embeddings"):
        scorer.exemplar_embeddings = emb
    np.testing.assert_array_equal(scorer.exemplar_embeddings, own)
