"""The MiniLM encoder runs the same weights on onnxruntime (default) or eager torch.

The ONNX file is exported once into the model cache and checked against torch before use; if the
export cannot be made the encoder says so in the log and runs on torch, never on something else.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from modpipe.text.encoder import TextEncoder

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


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown text backend"):
        TextEncoder(backend="tensorrt")
