"""The prompt gate's stages between the request and `decide`, for one prompt or a batch.

    prompt_samples(pipe, prompt, images, reading)  validate + normalise → samples, `language` status
    gate_many(pipe, requests)                      every request's samples through each scorer at once

A prompt becomes one sample per reading of it (`translate.variants`: as written, normalised,
decoded payloads, its English translation, the policy's coded words in plain words) plus one per
reference image; the scorers score them all and `decide` takes the worst. A prompt in a language
nothing here translates, or of emoji alone, gets a `language` status that sends the categories
the encoder feeds to review (`Pipeline.unread`). Bad input raises `ModpipeError` before anything is scored; in a batch
it becomes that request's error decision and the rest go on.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from modpipe.errors import InputTooLargeError, ModpipeError, TextInputError
from modpipe.ingest.images import load_image
from modpipe.text import translate
from modpipe.types import Decision, ErrorInfo, Modality, Sample, Score, ScorerStatus

if TYPE_CHECKING:
    from modpipe.pipeline import Pipeline


def check_prompt(prompt: Any, max_chars: int) -> None:
    if not isinstance(prompt, str):
        raise TextInputError(f"prompt must be a string, got {type(prompt).__name__}")
    if len(prompt) > max_chars:
        raise InputTooLargeError(f"prompt has {len(prompt)} characters; the limit is {max_chars}")


def prompt_samples(pipe: Pipeline, prompt: str, images: Iterable[Any] = (),
                   reading: translate.Reading | None = None) -> tuple[list[Sample], ScorerStatus | None]:
    """Validate and normalise a prompt (+ its English `reading` when it is in another language,
    + reference images) into samples to score, and the prompt's `language` status (None when
    it was read)."""
    check_prompt(prompt, pipe.settings.max_prompt_chars)
    unread = pipe.unread(prompt, reading)
    skip = translate.skipped(reading, unread is not None, pipe.text_languages)
    samples = [Sample(index=i, modality=Modality.PROMPT, text=v, meta=meta)
               for i, (v, meta) in enumerate(translate.variants(prompt, reading, skip, pipe.euphemisms))]
    for img in images:
        samples.append(Sample(index=len(samples), modality=Modality.IMAGE, image=load_image(img)))
    return samples, unread


def gate_many(pipe: Pipeline, requests: Sequence[dict[str, Any]]) -> list[Decision]:
    """`Pipeline.gate_many`: real batching. Every request's samples go through each scorer in one
    call (one encoder forward per batch), then are split back and decided per request."""
    t0 = time.perf_counter()
    spans: list[tuple[int, int, ScorerStatus | None] | ErrorInfo] = []
    samples: list[Sample] = []
    readings = pipe.read_languages([req.get("text") for req in requests])  # one call per language
    for req, reading in zip(requests, readings, strict=True):
        try:
            pipe.check_audience(req.get("audience"))
            mine, unread = prompt_samples(pipe, req.get("text"), req.get("images", ()), reading)
        except ModpipeError as exc:
            spans.append(ErrorInfo(type=type(exc).__name__, message=str(exc)))
            continue
        lo = len(samples)
        samples.extend(Sample(index=lo + s.index, modality=s.modality, text=s.text, image=s.image,
                              meta=s.meta) for s in mine)
        spans.append((lo, len(samples), unread))
    scores, statuses = pipe.score_samples(samples)
    per_request: dict[int, list[Score]] = {}
    starts = [sp[0] for sp in spans if isinstance(sp, tuple)]
    for sc in scores:
        per_request.setdefault(starts[bisect.bisect_right(starts, sc.sample) - 1], []).append(sc)
    elapsed = round(time.perf_counter() - t0, 5)
    out: list[Decision] = []
    for req, sp, reading in zip(requests, spans, readings, strict=True):
        common = {"id": req.get("id"), "user": req.get("user"), "timings": {"batch_total": elapsed}}
        if isinstance(sp, ErrorInfo):
            out.append(pipe.decide("gate", [], dict(pipe.unavailable), None, error=sp, **common))
            continue
        mine = pipe.apply_consent(per_request.get(sp[0], []), req.get("user"))
        d = pipe.decide("gate", mine, with_unread(statuses, sp[2]), req.get("audience"), **common)
        out.append(with_reading(d, reading, sp[2] is not None))
    return out


def with_unread(statuses: dict[str, ScorerStatus], unread: ScorerStatus | None) -> dict[str, ScorerStatus]:
    return statuses if unread is None else {**statuses, unread.scorer: unread}


def with_reading(d: Decision, reading: translate.Reading | None, unread: bool = False) -> Decision:
    """A prompt in another language: the decision says how it was read."""
    if reading is None:
        return d
    return d.model_copy(update={"reasons": [*d.reasons, translate.reason(reading, unread)]})
