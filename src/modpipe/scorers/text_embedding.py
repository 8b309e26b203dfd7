"""Text scorer: MiniLM sentence embeddings → per-label risk, from trained heads and exemplars.

Two signals per label, combined:
- a **trained head** (logistic regression on the embedding averaged with a small MLP,
  calibrated; trained by `modpipe.text.train_heads` and shipped under `models/`), when the
  heads file has that label;
- **policy exemplars**: cosine similarity to the label's positive phrases, pushed down when a
  negative phrase is closer. A policy author steers a label by adding phrases, no retraining.

The score is `max(head, exemplar)` scaled by the negative-exemplar suppression. Both raw parts go
into the evidence. A label named in `minor_cues` also takes another label's score times the text's
minor cue (`modpipe.text.minors`: sexual text that names a child is `sexual_minors`). Accepts
prompts, transcript segments and OCR text alike; a text longer than the encoder's window scores
as its worst window (`TextEncoder.encode_windows`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from modpipe.assets import models_dir
from modpipe.errors import ModelUnavailableError
from modpipe.scorers.base import Scorer
from modpipe.text.encoder import shared_encoder
from modpipe.text.heads import FoldedHeads, Heads
from modpipe.text.minors import minor_cue
from modpipe.types import TEXT_MODALITIES, Modality, Sample, Score


class Exemplars(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    positive: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)


class TextEmbeddingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: dict[str, Exemplars] = Field(..., min_length=1)
    heads: str | None = Field(
        None, description="heads file under models/ (NAME.npz + NAME.json); null = none"
    )
    exemplar_center: float = Field(0.62, ge=0.0, le=1.0, description="cosine scored as 0.5")
    exemplar_scale: float = Field(14.0, gt=0.0, description="sigmoid steepness")
    head_full_words: int = Field(
        0, ge=0, le=50,
        description="speech/OCR text shorter than this many words gets a proportionally smaller "
        "head score (short ASR fragments and mis-heard words look like short social posts to the "
        "heads); 0 = off. Prompts are never damped; exemplars and lexicon are unaffected",
    )
    negative_margin: float = Field(
        0.04, ge=0.0, le=1.0, description="a negative this much closer than any positive mutes"
    )
    first_window_only: list[str] = Field(
        default_factory=list,
        description="labels read from a long text's first window only: its later chunks, read out "
        "of context, do not count for them (public_figure: any personal name in a chunk of a long "
        "story looks like a request for a real person; real names are the name matcher's job)",
    )
    minor_cues: dict[str, str] = Field(
        default_factory=dict,
        description="label → another label whose score it also takes, times the text's minor cue "
        "(`modpipe.text.minors`: 1 for an age under 18 or a word for a child, 0.55 for teen and the "
        "like): sexual_minors: sexual",
    )

    @model_validator(mode="after")
    def _known_labels(self) -> TextEmbeddingParams:
        for field, names in (("first_window_only", self.first_window_only),
                             ("minor_cues", [*self.minor_cues, *self.minor_cues.values()])):
            unknown = sorted(set(names) - set(self.labels))
            if unknown:
                raise ValueError(f"{field} names labels this scorer lacks: {unknown}")
        if any(k == v for k, v in self.minor_cues.items()):
            raise ValueError("minor_cues maps a label to itself")
        return self


READ_MIN_TEXTS = 200  # training texts in a language before the heads count as reading it


def _rounded(x: np.ndarray) -> list:
    return np.round(x.astype(np.float64), 4).tolist()


class _ExemplarBank:
    """Exemplar phrases of every label, embedded into one matrix, with each group's row range.
    The scorer keeps one bank: each label's positives, then each label's negatives."""

    def __init__(self, groups: list[list[str]], encoder) -> None:  # noqa: ANN001 - TextEncoder
        self.texts = [t for g in groups for t in g]
        self.matrix_t = np.ascontiguousarray(
            (encoder.encode(self.texts) if self.texts else np.zeros((0, encoder.dim), np.float32)).T)
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        self.n_groups = len(groups)
        self.filled = np.flatnonzero(sizes > 0)            # groups that have phrases
        self.starts = np.cumsum([0, *sizes])[:-1][self.filled]  # their first row
        self.bounds = [(int(a), int(a + n)) if n else None for a, n in zip(np.cumsum([0, *sizes]), sizes)]

    def best(self, sims: np.ndarray) -> np.ndarray:
        """Highest cosine per row of `sims` (= emb @ matrix_t) and group; -inf for no phrases."""
        if len(self.filled) == self.n_groups:
            return np.maximum.reduceat(sims, self.starts, axis=1)
        best = np.empty((sims.shape[0], self.n_groups), dtype=np.float32)
        best.fill(-np.inf)
        if self.texts:
            best[:, self.filled] = np.maximum.reduceat(sims, self.starts, axis=1)
        return best

    def phrase(self, sims_row: list[float], group: int, cos: float) -> str:
        """The group's first phrase with cosine `cos` in one row of sims (as a Python list)."""
        lo, hi = self.bounds[group]
        return self.texts[sims_row.index(cos, lo, hi)]


class TextEmbeddingScorer(Scorer):
    type = "text_embedding"
    modalities = TEXT_MODALITIES
    Params = TextEmbeddingParams

    @classmethod
    def outputs(cls, params: TextEmbeddingParams) -> frozenset[str]:
        return frozenset(params.labels)

    def __init__(self, name, params: TextEmbeddingParams, resources) -> None:  # noqa: ANN001
        super().__init__(name, params, resources)
        self.encoder = shared_encoder(resources)
        heads: Heads | None = None
        if params.heads:
            path = models_dir() / f"{params.heads}.npz"
            if not path.is_file():
                raise ModelUnavailableError(
                    f"text heads {params.heads!r} not found at {path}",
                    hint="train them with `make train-heads`, or set heads: null in the policy",
                )
            heads = Heads.load(path)
            if heads.encoder_id not in (None, self.encoder.model_id):
                raise ModelUnavailableError(
                    f"text heads {params.heads!r} were trained on {heads.encoder_id}, "
                    f"not on this encoder ({self.encoder.model_id})",
                    hint="retrain them with `make train-heads` (or restore the encoder they were trained on)")
        self.labels = list(params.labels)
        # every label's positive and negative exemplars in one matrix: one matmul per call
        self._bank = _ExemplarBank([params.labels[lb].positive for lb in self.labels]
                                   + [params.labels[lb].negative for lb in self.labels], self.encoder)
        self.heads = heads

    @property
    def heads(self) -> Heads | None:
        return self._heads

    @heads.setter
    def heads(self, heads: Heads | None) -> None:
        """Set or swap the heads (the evaluation swaps in heads trained per fold); the folded
        arithmetic and the fused matrix follow."""
        self._heads = heads
        self._folded = FoldedHeads(heads, self.labels) if heads else None
        # the heads' first layer and the exemplar bank side by side: one matmul per call
        self._split = self._folded.first.shape[1] if heads else 0
        self._fused = np.ascontiguousarray(np.concatenate(
            [self._folded.first, self._bank.matrix_t], axis=1) if heads else self._bank.matrix_t)

    @property
    def exemplar_texts(self) -> list[str]:
        """Every exemplar phrase in the bank's row order: each label's positives, then its negatives."""
        return self._bank.texts

    @property
    def exemplar_embeddings(self) -> np.ndarray:
        return self._bank.matrix_t.T

    @exemplar_embeddings.setter
    def exemplar_embeddings(self, emb: np.ndarray) -> None:
        """Swap in the exemplars embedded by another encoder: a held-out evaluation compares texts
        and exemplars embedded by the same held-out encoder, not by the shipped one."""
        if emb.shape != self._bank.matrix_t.T.shape:
            raise ValueError(f"exemplar embeddings {emb.shape}, the bank has {self._bank.matrix_t.T.shape}")
        self._bank.matrix_t = np.ascontiguousarray(emb.T, dtype=np.float32)
        self.heads = self._heads  # the fused matrix holds the bank

    @property
    def model_id(self) -> str:
        return self.encoder.model_id + (f"+{self.heads.model_id}" if self.heads else "")

    @property
    def languages(self) -> frozenset[str]:
        """The languages this scorer reads as written: English (the encoder's and the exemplars'),
        and any the heads learned from at least `READ_MIN_TEXTS` training texts (Arabic tweets)."""
        learned = self.heads.languages if self.heads else {}
        return frozenset({"en"} | {lang for lang, n in learned.items() if n >= READ_MIN_TEXTS})

    def score_embeddings(self, emb: np.ndarray, head_scale: np.ndarray | None = None,
                         texts: Sequence[str] | None = None) -> dict[str, tuple[np.ndarray, list[dict]]]:
        """label → (scores[N], evidence[N]) for N embeddings. Exposed for tuning and benchmarks.
        `head_scale` (N,) multiplies the head probabilities (see `head_full_words`); `texts` (N,
        each row's whole text) feed the `minor_cues` labels, which take no cue without them."""
        p, n_labels = self.params, len(self.labels)
        z = emb @ self._fused
        sims = z[:, self._split:]
        best = self._bank.best(sims)  # (n, 2L): each label's positives, then its negatives
        pos, neg = best[:, :n_labels], best[:, n_labels:]
        ex = pos * (0.5 * p.exemplar_scale)  # the sigmoid, in tanh form; -inf → 0
        ex -= 0.5 * p.exemplar_scale * p.exemplar_center
        np.tanh(ex, out=ex)
        ex += 1.0
        ex *= 0.5
        if self._folded is not None:
            head = self._folded.probabilities(z[:, :self._split])
            if head_scale is not None:
                head *= head_scale[:, None]
            score = np.maximum(head, ex)
        else:
            head, score = None, ex
        # a negative exemplar clearly closer than every positive mutes the label:
        # mute = clip(1 - 10·(neg - max(pos, 0) - margin), 0, 1) where neg > center - 0.1
        mute = np.maximum(pos, 0.0)
        mute -= neg
        mute *= 10.0
        mute += 1.0 + 10.0 * p.negative_margin
        np.minimum(mute, 1.0, out=mute)  # (np.clip's Python wrapper costs more here)
        np.maximum(mute, 0.0, out=mute)
        mute[neg <= p.exemplar_center - 0.1] = 1.0
        score *= mute
        cues = self._minor_cues(score, texts) if p.minor_cues and texts is not None else None
        return self._evidence(score, best, head, mute, sims, cues)

    def _minor_cues(self, score: np.ndarray, texts: Sequence[str]) -> list[str | None]:
        """Raise each `minor_cues` label (in place) to its source label's score times the row's
        minor cue; the words that gave each row's cue."""
        cues = [minor_cue(t) for t in texts]
        strength = np.array([c for c, _ in cues], dtype=np.float32)
        if strength.any():
            for target, source in self.params.minor_cues.items():
                j, k = self.labels.index(target), self.labels.index(source)
                score[:, j] = np.maximum(score[:, j], score[:, k] * strength)
        return [term for _, term in cues]

    def _evidence(self, score: np.ndarray, best: np.ndarray, head: np.ndarray | None,
                  mute: np.ndarray, sims: np.ndarray, cues: list[str | None] | None = None,
                  ) -> dict[str, tuple[np.ndarray, list[dict]]]:
        """Per label and row: the closest positive exemplar and its cosine, the head's
        probability, the negative exemplar that muted it, the words that said a child was there
        (`minor_cues` labels). Built from plain Python lists (numpy scalars cost more per element
        than the arithmetic)."""
        bank, n_labels = self._bank, len(self.labels)
        best_l, cos_l, sims_l, muted = best.tolist(), _rounded(best), sims.tolist(), (mute < 1.0).tolist()
        head_l = _rounded(head) if head is not None else None
        has_head = self._folded.has_head if self._folded is not None else [False] * n_labels
        out: dict[str, tuple[np.ndarray, list[dict]]] = {}
        for j, label in enumerate(self.labels):
            evs: list[dict] = []
            for i, row in enumerate(best_l):
                ev: dict = {}
                if bank.bounds[j] is not None:
                    ev["exemplar"] = bank.phrase(sims_l[i], j, row[j])
                    ev["exemplar_cos"] = cos_l[i][j]
                if has_head[j]:
                    ev["head"] = head_l[i][j]
                if muted[i][j]:
                    ev["negative_exemplar"] = bank.phrase(sims_l[i], n_labels + j, row[n_labels + j])
                    ev["negative_cos"] = cos_l[i][n_labels + j]
                if cues is not None and cues[i] is not None and label in self.params.minor_cues:
                    ev["minor_cue"] = cues[i]
                evs.append(ev)
            out[label] = (score[:, j], evs)
        return out

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        # a prompt read through its English translation (`modpipe.text.translate`): the encoder
        # reads the translation, not the words as written, which it cannot read
        samples = [s for s in samples if "as_written" not in s.meta]
        if not samples:
            return []
        texts = [s.text or "" for s in samples]
        windows = self.encoder.encode_windows(texts)
        counts = [len(w) for w in windows]
        emb = windows[0] if len(windows) == 1 else np.concatenate(windows)
        scale = None
        if self.params.head_full_words and any(s.modality != Modality.PROMPT for s in samples):
            full = self.params.head_full_words
            scale = np.array([1.0 if s.modality == Modality.PROMPT else min(1.0, len((s.text or "").split()) / full)
                              for s in samples], dtype=np.float32)
            if len(emb) > len(samples):
                scale = np.repeat(scale, counts)
        results = self.score_embeddings(emb, scale, texts if len(emb) == len(samples)
                                        else [t for t, k in zip(texts, counts, strict=True) for _ in range(k)])
        if len(emb) > len(samples):
            results = {label: _worst_window(vals, evs, counts, self.chunks_count(label))
                       for label, (vals, evs) in results.items()}
        scores: list[Score] = []
        for label, (vals, evs) in results.items():
            for s, v, ev in zip(samples, vals.tolist(), evs, strict=True):
                scores.append(
                    Score(self.name, label, v, s.index, s.modality, s.start, s.end, ev)
                )
        return scores

    def chunks_count(self, label: str) -> bool:
        """Whether a long text's later chunks count for `label` (not for `first_window_only`)."""
        return label not in self.params.first_window_only


CHUNK_POWER = 2.0  # a chunk of a long text scores score**2 (review at 0.5 needs 0.71, block at 0.75 needs 0.87)


def chunk_score(vals: np.ndarray, counted: bool = True) -> np.ndarray:
    """A label's scores on chunks of a long text (its windows after the first, read out of
    context): squared (`CHUNK_POWER`), or 0 where the label is not `counted` on chunks (the
    policy's `first_window_only`)."""
    return vals ** CHUNK_POWER if counted else np.zeros_like(vals)


def _worst_window(vals: np.ndarray, evs: list[dict], counts: list[int], chunks_count: bool = True,
                  ) -> tuple[np.ndarray, list[dict]]:
    """Per text, the highest score among its windows (a long text is as risky as its worst part);
    the evidence says which window (1-based, of how many) when there are several. The first
    window is the text as the heads were trained on it; the others are chunks read out of
    context, on which the heads are overconfident (story sentences like "the evil queen gave
    Snow White a poisoned apple" scored violence 0.82), so a chunk counts as `chunk_score`:
    score**CHUNK_POWER, it must be clearly unsafe (or 0 for a label not `chunks_count`). On long
    harmless video prompts (vbench2) that took the flagged share from 8/31 to 1/31, and kept 79 %
    of unsafe prompts caught behind long lead-ins."""
    out_vals = np.empty(len(counts), dtype=vals.dtype)
    out_evs: list[dict] = []
    lo = 0
    for i, k in enumerate(counts):
        views = vals[lo:lo + k].copy()
        views[1:] = chunk_score(views[1:], chunks_count)
        j = int(np.argmax(views))
        out_vals[i] = views[j]
        out_evs.append(evs[lo] if k == 1 else {**evs[lo + j], "window": f"{j + 1}/{k}"})
        lo += k
    return out_vals, out_evs
