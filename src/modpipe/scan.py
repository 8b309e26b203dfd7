"""The video scan's stages between ingest and aggregate, wired for speed.

    prepare(video, policy)          ingest + sample + audio: CPU only, no models (a Ray task)
    extract_and_score(pipe, input)  ASR ∥ (frame scorers, OCR) → translation → text scorers → raw scores

ASR runs in a worker thread while the main thread scores frames and reads on-screen text (both
sides spend their time in native code that releases the GIL). The transcript segments and OCR
spans are then scored by the policy's text scorers in one batch — the same scorers as the gate,
with a line in another language read through its English translation as a prompt is
(`Pipeline.read_text`).
An extractor that fails yields a `failed` status naming the categories its text feeds, so those
categories fail closed to `review`; a video without audio is checked visually only.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from modpipe.errors import ModpipeError
from modpipe.policy.schema import Extraction, Policy
from modpipe.scorers import get_scorer_class
from modpipe.types import ErrorInfo, Modality, Sample, ScanInput, ScanTrace, Score, ScorerStatus

if TYPE_CHECKING:
    from modpipe.pipeline import Pipeline
    from modpipe.settings import Settings

log = logging.getLogger("modpipe")
SNIPPET_CHARS = 200  # transcript / on-screen text kept in a segment's evidence (never logged)


def _error(exc: ModpipeError) -> ErrorInfo:
    return ErrorInfo(type=type(exc).__name__, message=str(exc))


def prepare(video: str | Path, policy: Policy, id: str | None = None) -> ScanInput:
    """Probe, sample frames and (if ASR is on) decode the audio. Never raises a media error:
    it is returned in `.error` (bad video) or `.audio_error` (video fine, audio track broken)."""
    from modpipe.ingest import backend_for, load_audio, probe
    from modpipe.sample import sample_frames

    t0 = time.perf_counter()
    rid = id or uuid.uuid4().hex[:12]
    timings: dict[str, float] = {}
    try:
        backend = backend_for(video)
        info = probe(video, backend)
        timings["probe"] = round(time.perf_counter() - t0, 4)
        t = time.perf_counter()
        frames = sample_frames(video, info, policy.sampling, backend)
        timings["sample"] = round(time.perf_counter() - t, 4)
    except ModpipeError as exc:
        timings["prepare"] = round(time.perf_counter() - t0, 4)
        return ScanInput(id=rid, input=str(video), error=_error(exc), timings=timings)
    audio, audio_error = None, None
    if policy.extraction.asr and info.has_audio:
        t = time.perf_counter()
        try:
            audio = load_audio(video)
        except ModpipeError as exc:
            audio_error = _error(exc)
        timings["audio"] = round(time.perf_counter() - t, 4)
    return ScanInput(id=rid, input=str(video), info=info, frames=frames, audio=audio,
                     audio_error=audio_error, timings=timings)


def extractor_factories(extraction: Extraction, settings: Settings) -> dict:
    """name → zero-argument loader, for the extractors the policy turns on."""
    from modpipe.extract.asr import load_transcriber
    from modpipe.extract.ocr import OcrReader

    out = {}
    if extraction.asr:
        out["asr"] = lambda: load_transcriber(settings, extraction.asr_language)
    if extraction.ocr:
        out["ocr"] = lambda: OcrReader(threads=settings.threads)
    return out


def text_fed_categories(policy: Policy, modality: Modality) -> list[str]:
    """Categories with a signal from a scorer that reads text of this modality."""
    cats = []
    for cname, cat in policy.categories.items():
        for sig in cat.signals:
            accepts = get_scorer_class(policy.scorers[sig.scorer].type).modalities
            if modality in accepts and (sig.modalities is None or modality in sig.modalities):
                cats.append(cname)
                break
    return cats


def _timed(fn, *args):  # noqa: ANN001, ANN202
    t = time.perf_counter()
    out = fn(*args)
    return out, round(time.perf_counter() - t, 4)


def extract_and_score(pipe: Pipeline, prepared: ScanInput, trace: ScanTrace,
                      every_modality: bool = False) -> tuple[list[Score], dict[str, ScorerStatus]]:
    score = partial(pipe.score_samples, every_modality=every_modality)
    frames = list(prepared.frames)
    statuses = {**pipe.unavailable, **pipe.extractors_unavailable}
    asr, ocr = pipe.extractors.get("asr"), pipe.extractors.get("ocr")
    if prepared.audio_error is not None and "asr" in pipe.extractors:
        statuses["asr"] = pipe._status("asr", "failed", f"audio not decodable: {prepared.audio_error.message}")
    speech: list[Sample] = []
    on_screen: list[Sample] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="modpipe-asr") as pool:
        asr_job = pool.submit(_timed, asr.extract, prepared.audio, 0) \
            if asr is not None and prepared.audio is not None else None
        (scores, frame_statuses), trace.timings["score_frames"] = _timed(score, frames)
        statuses.update(frame_statuses)
        if ocr is not None:
            try:
                on_screen, trace.timings["ocr"] = _timed(ocr.extract, frames, len(frames))
            except Exception as exc:  # noqa: BLE001 - OCR failure fails closed for text categories
                statuses["ocr"] = pipe._status("ocr", "failed", type(exc).__name__)
                log.error("SAFETY: extractor ocr failed: %s", type(exc).__name__)
        if asr_job is not None:
            try:
                speech, trace.timings["asr"] = asr_job.result()
            except Exception as exc:  # noqa: BLE001
                statuses["asr"] = pipe._status("asr", "failed", type(exc).__name__)
                log.error("SAFETY: extractor asr failed: %s", type(exc).__name__)
    lo = len(frames) + len(on_screen)
    text = on_screen + [replace(s, index=lo + i) for i, s in enumerate(speech)]
    if text:  # text in other languages: its English translation is scored too (or instead)
        text = pipe.read_text(text, first_index=lo + len(speech))
        (text_scores, text_statuses), trace.timings["score_text"] = _timed(score, text)
        # evidence for reviewers: the text, the language of a translation, a coded word read plainly
        snippet = {s.index: {"text": s.text[:SNIPPET_CHARS],
                             **{k: s.meta[k] for k in ("translated_from", "euphemism") if k in s.meta}}
                   for s in text}
        scores += [sc.with_value(sc.value, **snippet[sc.sample]) for sc in text_scores]
        statuses.update({k: v for k, v in text_statuses.items() if k not in statuses})
    trace.text_samples, trace.scores = text, scores
    return scores, statuses
