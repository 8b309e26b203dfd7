"""Per-category heads over the text encoder's embedding: how `models/text_heads.npz` turns an
embedding into calibrated probabilities (`Heads`), and the same arithmetic folded into few numpy
calls for the text scorer (`FoldedHeads`). Trained by `modpipe.text.train_heads`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from modpipe.errors import ModelUnavailableError
from modpipe.text.mlp_head import GELU_C, MLPArrays


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # = 1 / (1 + e^-x), with no overflow for any x


class Heads:
    """Per-category heads over the encoder's embedding, Platt-calibrated: a logistic head, and
    where the heads file has one, the average of its logit with a small MLP's
    (`modpipe.text.mlp_head`)."""

    def __init__(self, labels: list[str], W: np.ndarray, b: np.ndarray, a: np.ndarray | None = None,
                 c: np.ndarray | None = None, model_id: str = "heads", mlp: MLPArrays | None = None,
                 encoder_id: str | None = None, languages: dict[str, int] | None = None) -> None:
        self.labels = list(labels)
        # training texts per language (ISO 639-1), from the heads' manifest; English when not listed
        self.languages = dict(languages or {"en": 0})
        self.W = np.asarray(W, dtype=np.float32)  # L × D
        self.b = np.asarray(b, dtype=np.float32)  # L
        self.a = np.ones_like(self.b) if a is None else np.asarray(a, dtype=np.float32)
        self.c = np.zeros_like(self.b) if c is None else np.asarray(c, dtype=np.float32)
        self.model_id = model_id
        self.mlp = mlp
        self.encoder_id = encoder_id  # the encoder the heads were trained on, when known
        if mlp is not None and mlp.W2.shape[1] != len(self.labels):
            raise ModelUnavailableError(f"heads {model_id}: MLP has {mlp.W2.shape[1]} outputs for "
                                        f"{len(self.labels)} labels")

    @classmethod
    def load(cls, path: Path) -> Heads:
        """models/NAME.npz (W, b, calib_a, calib_c[, mlp_*]) + models/NAME.json (labels, checksum)."""
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(meta["labels"], arrays["W"], arrays["b"], arrays.get("calib_a"),
                   arrays.get("calib_c"), f"{path.stem}@{meta.get('checksum', 'unknown')[:19]}",
                   MLPArrays.from_dict(arrays), meta.get("encoder"), meta.get("languages"))

    def predict(self, emb: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N × L). (The scorer runs the same arithmetic folded: `FoldedHeads`.)"""
        logits = emb @ self.W.T + self.b
        if self.mlp is not None:
            logits = (logits + self.mlp.logits(emb)) / 2
        return _sigmoid(self.a * logits + self.c)


_GELU_K3 = np.float32(GELU_C * 0.044715)


class FoldedHeads:
    """The heads' arithmetic folded for the scorer's label order, so a call runs few numpy
    operations (each costs microseconds on a cache the encoder's forward has just flushed).

    `Heads.predict` is p = sigmoid(a·logit + c), logit = lin, or (lin + mlp) / 2 with the MLP.
    With sigmoid(x) = ½ + ½·tanh(x/2) and GELU(h) = ½·h·(1 + tanh(h·(k + k·0.044715·h²))), the
    constant factors go into the weights: `first` gives [u | h] with u = ½(a·lin' + c) where lin'
    is the logistic part (and the MLP's bias), `second` adds the MLP's share. A label without a
    head gets u = -inf, so p = 0."""

    def __init__(self, heads: Heads, labels: list[str]) -> None:
        cols = [heads.labels.index(lb) if lb in heads.labels else -1 for lb in labels]
        keep = np.array([c >= 0 for c in cols], dtype=np.float32)
        take = np.array([max(c, 0) for c in cols], dtype=np.int64)
        a, b, c = heads.a[take], heads.b[take], heads.c[take]
        share = 0.5 if heads.mlp is None else 0.25  # ½ from the tanh form, ½ from the average
        first = heads.W.T[:, take] * (a * share * keep)
        bias = b * a * share + c * 0.5 + (heads.mlp.b2[take] * a * share if heads.mlp is not None else 0)
        bias = np.where(keep > 0, bias, -np.inf)
        self.n_labels, self.mlp = len(labels), heads.mlp is not None
        if heads.mlp is not None:  # the MLP's first layer beside the logistic one; GELU's ½ goes in W2
            self.second = np.ascontiguousarray(heads.mlp.W2[:, take] * (a * share * 0.5 * keep))
            first, bias = np.concatenate([first, heads.mlp.W1], axis=1), np.concatenate([bias, heads.mlp.b1])
        self.first = np.ascontiguousarray(first, dtype=np.float32)
        self.bias = bias.astype(np.float32)
        self.has_head = (keep > 0).tolist()

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """Calibrated head probabilities (N × labels) from `z` = emb @ first (updated in place)."""
        z += self.bias
        u = z[:, : self.n_labels]
        if self.mlp:
            h = z[:, self.n_labels:]
            t = h * h
            t *= _GELU_K3
            t += GELU_C
            t *= h
            np.tanh(t, out=t)
            t += 1.0
            t *= h
            u = u + t @ self.second
        np.tanh(u, out=u)
        u += 1.0
        u *= 0.5
        return u
