"""`tune score`: run a policy's scorers once over labelled items and cache every raw score.

Prompts go through the same seams as the live gate (`Pipeline.read_languages`, which reads a
prompt in another language through its English translation, `Pipeline.gate_samples`, then
`Pipeline.score_samples`), many prompts per call so each scorer sees one real batch; videos go
through `Pipeline.prepare_scan` + `Pipeline.score_scan`. Raw scores are cached before consent and
thresholds, so any policy can re-decide them later (`modpipe.tune.evaluate`).

Items whose input hash + scorer fingerprint + preparation digest (the normalised prompt variants
and translations; the sampling settings for videos) are already cached are reused, not scored. A batch in
which a scorer crashed is not cached (it is retried next run); an input error (empty prompt,
undecodable video) is deterministic and is cached as an error, which decides as `review`.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modpipe.errors import ModpipeError
from modpipe.tune.cache import Entry, ScoreCache, fingerprint, params_digest, sha256_file, sha256_text
from modpipe.tune.labels import LabelledItem
from modpipe.types import Sample, Score, ScorerStatus

log = logging.getLogger("modpipe.tune")


@dataclass
class ScoreRun:
    scored: int = 0  # inputs the models ran on in this run
    reused: int = 0  # inputs found in the cache
    failed: int = 0  # inputs not cached because a scorer crashed or the file was unreadable
    seconds: float = 0.0


def pipeline_fingerprint(pipe) -> tuple[dict[str, str], dict[str, str], str]:  # noqa: ANN001
    """(scorer → model id, scorer → params digest, fingerprint) for a built Pipeline. The models
    also name what is not a policy scorer but changes the scores (the prompt translator), so a
    cache made with another one is not reused; only the policy's scorers have params."""
    models = {n: "unavailable" for n in pipe.unavailable} | dict(pipe.provenance.models)
    params = {n: params_digest(pipe.loaded, n) for n in models if n in pipe.loaded.policy.scorers}
    return models, params, fingerprint(models, params)


def _row(s: Score, offset: int = 0) -> dict:
    return {"scorer": s.scorer, "label": s.label, "value": float(s.value), "sample": s.sample - offset,
            "modality": s.modality.value, "start": s.start, "end": s.end}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _prep(samples: Sequence[Sample]) -> str:
    """What the scorers were given for one prompt: its variants, and which of them the encoder
    skips because it reads their English translation instead (`modpipe.text.translate`)."""
    return _digest("\x1f".join((s.text or "") + (f"\x1e{s.meta['as_written']}" if "as_written" in s.meta else "")
                               for s in samples))


def _crashed(statuses: dict[str, ScorerStatus]) -> bool:
    return any(st.status != "unavailable" for st in statuses.values())


def score_items(pipe, items: Sequence[LabelledItem], cache: ScoreCache, *, batch_size: int = 256,  # noqa: ANN001
                checkpoint_every: int = 2048,
                progress: Callable[[ScoreRun, int], None] | None = None) -> ScoreRun:
    """Score what is not cached yet; label every item in the cache; save (atomically) as it goes."""
    t0 = time.perf_counter()
    models, params, fp = pipeline_fingerprint(pipe)
    run = ScoreRun()
    # prompts → samples first (cheap, no model): the variants' digest is part of the cache key;
    # a prompt in another language is read as the live gate reads it (its English translation)
    todo: dict[str, list[Sample] | ModpipeError] = {}  # input hash → samples (identical prompts once)
    preps: dict[str, str] = {}
    videos: list[LabelledItem] = []
    prompts = {sha256_text(item.input): item.input for item in items if item.kind != "scan"}
    readings = dict(zip(prompts, pipe.read_languages(list(prompts.values())), strict=True))
    for item in items:
        if item.kind == "scan":
            videos.append(item)
            continue
        h = sha256_text(item.input)
        cache.label(item, h)
        if h not in preps:
            try:
                variants: list[Sample] | ModpipeError = pipe.gate_samples(item.input, reading=readings[h])
                preps[h] = _prep(variants)
            except ModpipeError as exc:
                variants, preps[h] = exc, _digest(f"error:{type(exc).__name__}")
            if not cache.has(h, fp, preps[h]):
                todo[h] = variants
                continue
        run.reused += 1

    def entry(h: str, kind: str, statuses: dict[str, ScorerStatus], scores: list[dict],
              error: dict | None = None) -> Entry:
        return Entry(h, fp, kind, models, params, [s.model_dump() for s in statuses.values()],
                     error, scores, preps.get(h, scan_prep))

    scan_prep = _digest(pipe.policy.sampling.model_dump_json() + pipe.policy.extraction.model_dump_json())
    since_save = 0
    pending = list(todo.items())
    for lo in range(0, len(pending), batch_size):
        batch = pending[lo : lo + batch_size]
        samples: list[Sample] = []
        starts: list[int] = []
        owners: list[str] = []
        for h, mine in batch:
            if isinstance(mine, ModpipeError):
                cache.put(entry(h, "gate", dict(pipe.unavailable), [],
                                {"type": type(mine).__name__, "message": str(mine)}))
                run.scored += 1
                continue
            base = len(samples)
            samples.extend(Sample(index=base + s.index, modality=s.modality, text=s.text, image=s.image,
                                  meta=s.meta) for s in mine)
            starts.append(base)
            owners.append(h)
        scores, statuses = pipe.score_samples(samples, every_modality=True)
        if _crashed(statuses):
            log.error("tune score: a scorer failed on a batch of %d prompts; not cached", len(owners))
            run.failed += len(owners)
            continue
        rows: dict[str, list[dict]] = {h: [] for h in owners}
        for s in scores:
            k = bisect.bisect_right(starts, s.sample) - 1
            rows[owners[k]].append(_row(s, starts[k]))
        for h in owners:  # a prompt in a language nothing here reads keeps its `language` status
            unread = pipe.unread(prompts[h], readings[h])
            cache.put(entry(h, "gate", statuses if unread is None else {**statuses, unread.scorer: unread}, rows[h]))
        run.scored += len(owners)
        since_save += len(batch)
        if progress:
            progress(run, len(pending))
        if since_save >= checkpoint_every:
            cache.save()
            since_save = 0

    for item in videos:
        try:
            h = sha256_file(item.input)
        except ModpipeError as exc:
            log.error("tune score: video %s unreadable: %s", item.id, type(exc).__name__)
            run.failed += 1
            continue
        cache.label(item, h)
        if cache.has(h, fp, scan_prep):
            run.reused += 1
            continue
        prepared = pipe.prepare_scan(item.input, id=item.id)
        if prepared.error is not None:
            cache.put(entry(h, "scan", dict(pipe.unavailable), [], prepared.error.model_dump()))
        else:
            scores, statuses = pipe.score_scan(prepared, every_modality=True)
            if _crashed(statuses):
                log.error("tune score: a scorer failed on video %s; not cached", item.id)
                run.failed += 1
                continue
            cache.put(entry(h, "scan", statuses, [_row(s) for s in scores]))
        run.scored += 1
        cache.save()
    cache.save()
    run.seconds = time.perf_counter() - t0
    return run
