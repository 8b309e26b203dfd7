"""The gate's trained text heads: logistic + MLP average, trained, saved, loaded and run in numpy.

Synthetic embeddings stand in for MiniLM here (the heads only ever see vectors); the real
training run is `make train-heads` on ../shared/data.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modpipe.text.dataset import Record
from modpipe.text.heads import Heads
from modpipe.text.mlp_head import MLPArrays, fit_mlp
from modpipe.text.train_heads import save, train


def _records(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[Record]]:
    """Two sources. 'a' labels sexual and hate, 'b' only hate; hate is a non-linear (XOR-like)
    function of the embedding, which a logistic head cannot fit and the MLP can."""
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    recs = []
    for i, x in enumerate(X):
        source = "a" if i % 2 else "b"
        labels = set()
        if source == "a" and x[0] > 0.2:
            labels.add("sexual")
        if (x[1] > 0) != (x[2] > 0):
            labels.add("hate")
        scope = ("sexual", "hate") if source == "a" else ("hate",)
        recs.append(Record(id=str(i), text=f"t{i}", source=source, kind="social_text",
                           labels=frozenset(labels), scope=frozenset(scope), adversarial=False,
                           hard_negative=False))
    return X, recs


def test_numpy_mlp_equals_the_torch_module_it_came_from() -> None:
    torch.manual_seed(0)
    first, second = torch.nn.Linear(8, 5), torch.nn.Linear(5, 3)
    net = torch.nn.Sequential(first, torch.nn.GELU(approximate="tanh"), second).eval()
    arrays = MLPArrays(first.weight.detach().numpy().T, first.bias.detach().numpy(),
                       second.weight.detach().numpy().T, second.bias.detach().numpy())
    x = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(arrays.logits(x), want, atol=1e-5)


def test_out_of_scope_records_teach_the_mlp_nothing() -> None:
    X = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
    Y = np.ones((64, 2), bool)
    w = np.zeros((64, 2), np.float32)
    w[:, 0] = 1.0  # category 1 is out of scope everywhere: its output layer never gets a gradient
    a, b = fit_mlp(X, Y, w, hidden=8, epochs=2), fit_mlp(X, Y, w * 0, hidden=8, epochs=2)
    np.testing.assert_allclose(a.W2[:, 1], b.W2[:, 1], atol=1e-3)  # only weight decay moves it
    assert not np.allclose(a.W2[:, 0], b.W2[:, 0], atol=1e-3)


def test_mlp_average_learns_what_a_linear_head_cannot(tmp_path) -> None:
    rng = np.random.default_rng(0)
    X, recs = _records(1200, rng)
    Xt, test = _records(400, np.random.default_rng(1))
    from sklearn.metrics import roc_auc_score

    auc = {}
    for mlp in (False, True):
        arrays, metrics = train(X, recs, categories=["sexual", "hate"], calib_folds=3, mlp=mlp)
        assert (arrays.mlp is not None) is mlp and set(metrics) == {"sexual", "hate"}
        p = arrays.heads("test").predict(Xt)
        assert p.shape == (400, 2) and ((p >= 0) & (p <= 1)).all()
        y = np.array(["hate" in r.labels for r in test])
        auc[mlp] = roc_auc_score(y, p[:, 1])
    assert auc[False] < 0.7 < 0.85 < auc[True]  # XOR: linear ≈ chance, the average learns it

    # saved and loaded through the heads file, the scorer's predictions are the trained ones
    save(arrays, tmp_path, "heads", {"command": "test"})
    loaded = Heads.load(tmp_path / "heads.npz")
    assert loaded.mlp is not None and loaded.labels == ["sexual", "hate"]
    np.testing.assert_allclose(loaded.predict(Xt), arrays.heads("x").predict(Xt), atol=2e-2)  # fp16 storage


def test_a_category_with_no_positives_stays_near_zero_with_the_mlp() -> None:
    X, recs = _records(300, np.random.default_rng(2))
    arrays, _ = train(X, recs, categories=["sexual", "terrorism"], calib_folds=0, mlp=True)
    assert arrays.heads("t").predict(X)[:, 1].max() < 1e-3


def test_an_mlp_with_the_wrong_number_of_outputs_is_refused() -> None:
    from modpipe.errors import ModelUnavailableError

    mlp = MLPArrays(np.zeros((4, 3), np.float32), np.zeros(3, np.float32), np.zeros((3, 5), np.float32),
                    np.zeros(5, np.float32))
    with pytest.raises(ModelUnavailableError, match="5 outputs for 2 labels"):
        Heads(["a", "b"], np.zeros((2, 4)), np.zeros(2), mlp=mlp)


def test_a_long_texts_chunks_must_be_clearly_unsafe_and_the_evidence_names_the_window() -> None:
    from modpipe.scorers.text_embedding import _worst_window

    # text 0 fits the encoder's window; text 1 is long: its first window, then two chunks
    vals = np.array([0.3, 0.3, 0.8, 0.95], dtype=np.float32)
    evs = [{"head": 0.3}, {"head": 0.3}, {"head": 0.8}, {"head": 0.95}]
    out, ev = _worst_window(vals, evs, [1, 3])
    assert out[0] == pytest.approx(0.3) and ev[0] == {"head": 0.3}
    assert out[1] == pytest.approx(0.95 ** 2)  # a chunk read out of context counts squared
    assert ev[1] == {"head": 0.95, "window": "3/3"}
    out, _ = _worst_window(np.array([0.6, 0.7], dtype=np.float32), evs[:2], [2])
    assert out[0] == pytest.approx(0.6)  # 0.7 in a chunk (0.49) is weaker than 0.6 in context
