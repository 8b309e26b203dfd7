"""Labelled text records (`shared/data/text/*.jsonl`, dev split) for training and evaluating the
gate's heads, plus an on-disk cache of their MiniLM embeddings.

A record counts for a category only when the category is in its `label_scope` (I2P prompts name
real people, but I2P does not label public figures), so every category has its own set of
in-scope records. Source labels map to policy categories through `CATEGORY_OF`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# source label -> policy category; labels not listed are not gate categories
CATEGORY_OF = {
    "sexual": "sexual", "terrorism": "terrorism", "self_harm": "self_harm",
    "violence": "violence_gore", "hate": "hate", "public_figure": "public_figure",
    "harassment": "harassment", "illegal": "illegal_activity",
}
# harassment: no public dev source labels it; the project's authored texts teach it.
# illegal_activity: T2VSafetyBench's "Illegal Activities" prompts (theft, drugs, counterfeiting,
# break-ins), and the ninth authored batch (its crime prompts); the earlier batches do not label
# it (their benign texts count as its negatives below).
CATEGORIES = ["sexual", "terrorism", "self_harm", "violence_gore", "hate", "public_figure", "harassment",
              "illegal_activity"]
# a benign record from a source that annotates all of these is a negative for the other two too
_VOUCHED = frozenset(CATEGORIES) - {"harassment", "illegal_activity"}
# Source labels too noisy to learn from: I2P's labels are the search term that found a prompt, and
# its "illegal activity" ones are mostly art prompts (graffiti, comics, "a character who has a jar
# for a head"); a head that learned them flagged 54 % of benign posts and "KEEP OUT" signs.
IGNORED_LABELS = {"i2p": frozenset({"illegal"})}
# I2P also says how often a prompt's images were judged inappropriate (`meta.inappropriate_percentage`,
# of ten images). Below this share the source's own evidence does not back its label ("man lying in
# a bed" sexual, "selfie by disney concept artists" self_harm, "portrait of darth vader eating a big
# mac" self_harm, each 0-10 %): such records are not trained on (`targets(..., training=True)`);
# the evaluation still scores them under their labels.
MIN_INAPPROPRIATE_PERCENT = 20.0
BENIGN_T2V = {"vbench", "vbench2", "evalcrafter", "t2v_compbench"}
UNSAFE_T2V = {"t2vsafetybench"}
HARD_NEGATIVE_SOURCES = {"xstest_safe"}
# Sources that label only the public figure, in prompts built from neutral templates around a
# name ("A portrait of X", "X in an official photo"): negatives for every content category too.
# Elsewhere a real person's name turns up almost only in unsafe prompts (I2P's noisy search
# categories call "scarlett johansson china plate" self_harm; T2VSafetyBench's public-figure
# prompts annotate nothing else), so heads and encoder learned the name itself: "Hillary Clinton
# walking her dog" scored sexual 0.92, violence 0.97, hate 0.95, and a cameo that person had
# consented to would be blocked for content it does not have.
NAME_TEMPLATE_SOURCES = {"mace_celebrity_prompts"}
# MACE's five templates are too few to unlearn the names in short everyday prompts ("Barack
# Obama eating ice cream" stayed sexual 0.90), so the heads also train on counterfactual copies
# of benign prompts about an anonymous person with a real name put in (`name_swaps`).
SWAP_SOURCES = BENIGN_T2V | {"partiprompts", "coco_captions"}
_ANONYMOUS_SUBJECT = re.compile(r"^(?:a|an|the)\s+(?:man|woman|person|lady|gentleman|guy)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    source: str
    kind: str
    labels: frozenset[str]      # policy categories
    scope: frozenset[str]       # policy categories this source annotates
    adversarial: bool
    hard_negative: bool         # benign with trigger words, or from a hard-negative source
    lang: str = "en"            # the record's language (ISO 639-1), as its source gives it
    weak: bool = False          # unsafe, but its source's own evidence does not back the labels: not trained on

    @property
    def unsafe(self) -> bool:
        return bool(self.labels)


def default_data_dir() -> Path:
    """`$MODPIPE_DATA_DIR/text`, else `shared/data/text` beside the checkout."""
    if os.environ.get("MODPIPE_DATA_DIR"):
        return Path(os.environ["MODPIPE_DATA_DIR"]) / "text"
    here = Path(__file__).resolve()
    for parent in here.parents[3:6]:
        if (parent / "shared" / "data" / "text").is_dir():
            return parent / "shared" / "data" / "text"
    return here.parents[4] / "shared" / "data" / "text"


def load_records(data_dir: str | Path | None = None, split: str = "dev",
                 per_source: int | None = None, seed: int = 0) -> list[Record]:
    """Records of one split; `per_source` caps each source (a seeded sample that keeps the
    source's label mix) to bound the embedding cost on a small CPU."""
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    files = sorted(data_dir.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl text data under {data_dir}")
    out = [r for path in files for r in read_jsonl(path, split)]
    return _cap(out, per_source, seed) if per_source else out


def authored_path() -> Path:
    """`models/training/authored_t2v.jsonl`: prompts written for this project (see its README)."""
    from modpipe.assets import models_dir

    return models_dir() / "training" / "authored_t2v.jsonl"


def load_authored() -> list[Record]:
    """The project's own texts (unsafe, hard negatives, benign) that fill what the public dev
    sources lack: terrorism, self-harm and hate written as video prompts (source `authored_t2v`),
    chat-style texts with harassment and near misses (source `authored_chat`), short messages
    (source `authored_short`), prompts in the tag style of image models (source `authored_tags`),
    and pointed hard negatives. Training only: the evaluation never scores them. Their authors
    labelled every category (`label_scope`), so a category an unsafe text is not labelled with is
    a real negative: unlike I2P's, their one-label sources are not narrowed (`narrow_single_label`)."""
    return read_jsonl(authored_path(), narrow=False)


def read_jsonl(path: Path, split: str | None = None, narrow: bool = True) -> list[Record]:
    out: list[Record] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if split is not None and r.get("split", split) != split:
                    continue
                out.append(parse_record(r, path.stem))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a text record ({exc})") from exc
    return narrow_single_label(out) if narrow else out


SINGLE_LABEL_SHARE = 0.9  # a source whose unsafe records carry one category this often names one per prompt


def narrow_single_label(records: list[Record]) -> list[Record]:
    """Some sources name one category per unsafe prompt (I2P's search category, T2VSafetyBench's
    aspect): that says what the prompt is, not what else it is not. A nude I2P prompt full of
    gore is no violence negative, yet counting it as one taught heads and encoder that a prompt
    is sexual *or* violent ("a naked woman being stabbed" scored sexual just under review). So in
    such a source an unsafe record's scope shrinks to its own labels; benign records stay
    negatives for every category in scope."""
    by_source: dict[str, list[Record]] = {}
    for r in records:
        by_source.setdefault(r.source, []).append(r)
    single = {src for src, rs in by_source.items()
              if (unsafe := [r for r in rs if r.labels])
              and sum(len(r.labels) == 1 for r in unsafe) >= SINGLE_LABEL_SHARE * len(unsafe)}
    single -= NAME_TEMPLATE_SOURCES  # their one label is all a prompt is
    return [replace(r, scope=r.scope & r.labels) if r.source in single and r.labels else r for r in records]


def parse_record(r: dict, default_source: str = "") -> Record:
    """One JSON line of the text data format → Record (labels and scope as policy categories)."""
    ignored = IGNORED_LABELS.get(r.get("source", default_source), frozenset())
    labels = frozenset(CATEGORY_OF[x] for x in r.get("labels", []) if x in CATEGORY_OF and x not in ignored)
    scope = frozenset(CATEGORY_OF[x] for x in r.get("label_scope", []) if x in CATEGORY_OF and x not in ignored)
    meta = r.get("meta") or {}
    benign = not r.get("labels") or r.get("labels") == ["none"]
    if benign and _everyday_negative(r, scope, meta):
        scope |= {"harassment", "illegal_activity"}
    if r.get("source", default_source) in NAME_TEMPLATE_SOURCES and labels <= {"public_figure"}:
        scope = frozenset(CATEGORIES)
    return Record(
        id=str(r["id"]), text=str(r["text"]), source=str(r.get("source", default_source)),
        kind=str(r.get("kind", "")), labels=labels, scope=scope,
        adversarial=bool(r.get("adversarial", False)),
        hard_negative=benign and (bool(meta.get("hard_negative_terms"))
                                  or r.get("source") in HARD_NEGATIVE_SOURCES),
        lang=str(r.get("lang") or "en"),
        weak=not benign and float(meta.get("inappropriate_percentage", 100.0)) < MIN_INAPPROPRIATE_PERCENT,
    )


def _everyday_negative(r: dict, scope: frozenset[str], meta: dict) -> bool:
    """No public source labels harassment, and no chat-style source labels illegal activity. A
    benign record still counts as a negative for both when its source vouches for every other
    category (benign prompt sets), or when it is a post its annotators judged neither hateful nor
    suicidal, and none of them called it offensive. Without such everyday chat negatives a head
    learns that chat style itself means abuse or crime (23 % of benign hate-source tweets flagged
    as harassment). A few abusive posts may hide among them: the base rate in those sets is low,
    and the authored texts and T2VSafetyBench carry the positives."""
    if scope >= _VOUCHED:
        return True
    return (r.get("kind") == "social_text" and bool(scope & {"hate", "self_harm"})
            and not meta.get("votes_offensive") and not meta.get("votes_hate"))


def name_swaps(records: Sequence[Record], names: Sequence[str] | None = None, seed: int = 0) -> list[Record]:
    """Counterfactual training copies (Dixon et al. 2018; Garg et al. 2019): each benign prompt
    from SWAP_SOURCES that opens with an anonymous person ("A man cutting a tree bark") again,
    with a real name in that place, labelled public figure and a negative for every content
    category. Names come from `shared/data/names` (dev split) unless given; build the copies from
    training records only, so that no held-out prompt leaks in under another name."""
    names = list(names) if names is not None else public_figure_names()
    if not names:
        return []
    rng = random.Random(seed)
    out = []
    for r in records:
        if r.source in SWAP_SOURCES and not r.labels and _ANONYMOUS_SUBJECT.search(r.text):
            text = _ANONYMOUS_SUBJECT.sub(rng.choice(names), r.text, count=1)
            out.append(Record(id=f"name_swap:{r.id}", text=text, source="name_swap", kind=r.kind,
                              labels=frozenset({"public_figure"}), scope=frozenset(CATEGORIES),
                              adversarial=False, hard_negative=False, lang=r.lang))
    return out


def public_figure_names(data_dir: str | Path | None = None) -> list[str]:
    """Names of the dev split's public figures (`names/public_figures.jsonl` beside `text/`)."""
    path = (Path(data_dir) if data_dir else default_data_dir()).parent / "names" / "public_figures.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no public-figure names at {path} (needed for the name-swap copies)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted({r["name"] for r in rows if r.get("split", "dev") == "dev"})


def _cap(records: list[Record], per_source: int, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[Record]] = {}
    for r in records:
        by_source.setdefault(r.source, []).append(r)
    out: list[Record] = []
    for _, recs in sorted(by_source.items()):
        if len(recs) <= per_source:
            out += recs
            continue
        strata: dict[frozenset, list[Record]] = {}
        for r in recs:
            strata.setdefault(r.labels, []).append(r)
        for lab, group in sorted(strata.items(), key=lambda kv: sorted(kv[0])):
            k = max(1, round(per_source * len(group) / len(recs)))
            out += [group[i] for i in sorted(rng.choice(len(group), min(k, len(group)), replace=False))]
    return out


def targets(records: Sequence[Record], category: str, training: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(in_scope mask, positive labels) for one category; `training` leaves out weak records."""
    mask = np.array([category in r.scope and not (training and r.weak) for r in records], dtype=bool)
    y = np.array([category in r.labels for r in records], dtype=bool)
    return mask, y


class EmbeddingCache:
    """text -> embedding, persisted under the modpipe home so repeated runs skip the encoder."""

    def __init__(self, encoder, cache_dir: Path) -> None:  # noqa: ANN001 - TextEncoder
        self.encoder = encoder
        tag = hashlib.sha256(f"{encoder.model_id}/{encoder.max_length}".encode()).hexdigest()[:12]
        self.path = cache_dir / f"text-embeddings-{tag}.npz"
        self._mem: dict[str, np.ndarray] = {}
        if self.path.is_file():
            data = np.load(self.path)
            self._mem = dict(zip(data["keys"].tolist(), data["emb"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def encode(self, texts: Sequence[str], chunk: int = 1024) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._mem}.items())
        for lo in range(0, len(missing), chunk):  # saved after every chunk: a long run resumes
            part = missing[lo : lo + chunk]
            emb = self.encoder.encode([t for _, t in part], batch_size=64)
            self._mem.update(zip((k for k, _ in part), emb, strict=True))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ks = list(self._mem)
            np.savez(self.path, keys=np.array(ks), emb=np.stack([self._mem[k] for k in ks]))
        return np.stack([self._mem[k] for k in keys]) if keys else np.zeros((0, self.encoder.dim), np.float32)

    def encode_windows(self, texts: Sequence[str], chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(rows, owner): every window of every text, as the gate scores them
        (`TextEncoder.encode_windows`), and the text each row belongs to. A text's first window
        is its `encode` row; the others are cached under the text's key + window number. Each
        missing text runs through the encoder once, all its windows together."""
        counts = [len(ws) for ws in self.encoder.windows(texts)]
        keys = [self._window_keys(t, k) for t, k in zip(texts, counts, strict=True)]
        missing = list(dict.fromkeys(t for t, ks in zip(texts, keys, strict=True)
                                     if any(k not in self._mem for k in ks)))
        for lo in range(0, len(missing), chunk):  # saved after every chunk: a long run resumes
            part = missing[lo : lo + chunk]
            for t, wins in zip(part, self.encoder.encode_windows(part), strict=True):
                self._mem.update(zip(self._window_keys(t, len(wins)), wins, strict=True))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            ks = list(self._mem)
            np.savez(self.path, keys=np.array(ks), emb=np.stack([self._mem[k] for k in ks]))
        owner = np.array([i for i, k in enumerate(counts) for _ in range(k)], dtype=np.int64)
        rows = [self._mem[k] for ks in keys for k in ks]
        return (np.stack(rows) if rows else np.zeros((0, self.encoder.dim), np.float32)), owner

    def _window_keys(self, text: str, n: int) -> list[str]:
        key = self.key(text)
        return [key, *(f"{key}/{w}" for w in range(1, n))]
