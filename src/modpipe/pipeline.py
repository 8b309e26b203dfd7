"""The one Pipeline behind the CLI, the HTTP service and the Ray batch actor.

    Pipeline.from_policy(path)            load + validate the policy, build its scorers once
    pipeline.gate(prompt, images=...)     pre-generation prompt gate  → Decision (modpipe.gate)
    pipeline.scan(video)                  post-generation video scan  → Decision

Flow (one direction): ingest → sample → extract → score → aggregate → decide. Scorers that
cannot load are recorded as unavailable and reported in every decision; a scorer that raises
while scoring is recorded as failed for that request; both fail closed through `decide`.
Nothing here logs prompt text, transcripts or frames — only ids, hashes, categories, actions.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from modpipe import __version__, gate
from modpipe.decide import decide
from modpipe.errors import InputError, ModelUnavailableError, ModpipeError
from modpipe.policy import LoadedPolicy, load_policy
from modpipe.resources import Resources, configure_threads
from modpipe.scorers import get_scorer_class
from modpipe.scorers.base import Scorer
from modpipe.settings import Settings, get_settings
from modpipe.text import normalize, translate
from modpipe.text.words import Euphemisms
from modpipe.types import (
    Decision, ErrorInfo, Modality, Provenance, Sample, ScanInput, ScanTrace, Score, ScorerStatus,
)

log = logging.getLogger("modpipe")


class Pipeline:
    def __init__(self, loaded: LoadedPolicy, settings: Settings | None = None,
                 resources: Resources | None = None, *, models: bool = True) -> None:
        """`models=False` builds a preparer for `prepare_scan` (the CPU tasks of a Ray batch):
        no weights load, and every scorer is marked unavailable so that a stray `finish_scan`
        on it fails closed instead of allowing."""
        self.loaded = loaded
        self.policy = loaded.policy
        self.settings = settings or get_settings()
        configure_threads(self.settings.threads)
        self.resources = resources or Resources(self.settings)
        self.scorers: dict[str, Scorer] = {}
        self.unavailable: dict[str, ScorerStatus] = {}
        for name, spec in self.policy.scorers.items():
            if not spec.enabled:
                log.warning("scorer %s is disabled by policy %s", name, loaded.hash[:19])
                continue
            if not models:
                self.unavailable[name] = self._status(name, "unavailable", "not loaded (preparer)")
                continue
            try:
                cls = get_scorer_class(spec.type)
                self.scorers[name] = cls(name, loaded.params[name], self.resources)
            except ModelUnavailableError as exc:
                self.unavailable[name] = self._status(name, "unavailable", str(exc))
                log.warning("SAFETY: scorer %s unavailable: %s", name, exc)
            except Exception as exc:  # noqa: BLE001 - any load failure must fail closed
                self.unavailable[name] = self._status(name, "failed", f"{type(exc).__name__}: {exc}")
                log.error("SAFETY: scorer %s failed to load: %s", name, exc)
        self.provenance = Provenance(
            modpipe_version=__version__, policy_name=self.policy.name, policy_hash=loaded.hash,
            models={n: s.model_id for n, s in self.scorers.items()},
        )
        self._models = models  # a preparer never loads ASR/OCR either
        # prompts in other languages are translated for the English encoder, when a policy has one
        translator = translate.model_id() if models and self.settings.translate != "off" else None
        encoders = [n for n in self.scorers if self.policy.scorers[n].type == "text_embedding"]
        self._translate = translator is not None and bool(encoders)
        # a prompt in a language nothing here translates: what the encoder feeds goes to review
        self.text_languages = frozenset().union(*(self.scorers[n].languages for n in encoders))
        self.euphemisms = Euphemisms(self.policy.euphemisms)  # coded words, read in plain words too
        self.unread_categories = [c for c, cat in self.policy.categories.items() if any(
            s.scorer in encoders and (not s.modalities or Modality.PROMPT in s.modalities) for s in cat.signals)]
        if self._translate:
            self.provenance.models["translate"] = translator
            threading.Thread(target=translate.warm, name="modpipe-translate-warm", daemon=True).start()
        if models:
            normalize.warm()
        self._consumed = self._consumed_modalities()
        self._extractors: tuple[dict, dict[str, ScorerStatus], Provenance] | None = None
        self._extractor_lock = threading.Lock()

    @classmethod
    def from_policy(cls, policy: str | Path | LoadedPolicy | None = None,
                    settings: Settings | None = None, resources: Resources | None = None,
                    *, models: bool = True) -> Pipeline:
        settings = settings or get_settings()
        if not isinstance(policy, LoadedPolicy):
            policy = load_policy(policy if policy is not None else settings.policy)
        return cls(policy, settings, resources, models=models)

    def _status(self, scorer: str, status: str, message: str) -> ScorerStatus:
        if scorer in self.policy.scorers:
            cats = [c for c, cat in self.policy.categories.items() if any(s.scorer == scorer for s in cat.signals)]
        else:  # an extractor: the categories that its text feeds
            from modpipe.scan import text_fed_categories

            mod = {"asr": Modality.SPEECH, "ocr": Modality.OCR}[scorer]
            cats = text_fed_categories(self.policy, mod)
        return ScorerStatus(scorer=scorer, status=status, message=message, categories=cats)

    def load_extractors(self) -> tuple[dict, dict[str, ScorerStatus], Provenance]:
        """ASR and OCR: loaded on the first scan (a gate-only service never pays for them) or
        eagerly by calling this; once, shared through Resources. Returns (extractors, failures,
        the scan provenance with their model ids). Failures make scans fail closed for the
        categories their text feeds."""
        with self._extractor_lock:
            if self._extractors is None:
                loaded, failed = self._load_extractors()
                models = {**self.provenance.models, **{n: e.model_id for n, e in loaded.items()}}
                self._extractors = (loaded, failed, self.provenance.model_copy(update={"models": models}))
            return self._extractors

    @property
    def extractors(self) -> dict:
        return self.load_extractors()[0]

    @property
    def extractors_unavailable(self) -> dict[str, ScorerStatus]:
        return self.load_extractors()[1]

    def _load_extractors(self) -> tuple[dict, dict[str, ScorerStatus]]:
        from modpipe.scan import extractor_factories

        loaded, failed = {}, {}
        for name, factory in extractor_factories(self.policy.extraction, self.settings).items():
            if not self._models:
                failed[name] = self._status(name, "unavailable", "not loaded (preparer)")
                continue
            try:
                loaded[name] = self.resources.get(f"extractor:{name}", factory)
            except Exception as exc:  # noqa: BLE001 - any load failure must fail closed
                kind = "unavailable" if isinstance(exc, ModelUnavailableError) else "failed"
                failed[name] = self._status(name, kind, f"{type(exc).__name__}: {exc}")
                log.error("SAFETY: extractor %s %s: %s", name, kind, type(exc).__name__)
        return loaded, failed

    # ------------------------------------------------------------------ stages shared by both jobs

    def check_audience(self, audience: str | None) -> None:
        if audience is not None and audience not in self.policy.audiences:
            raise InputError(
                f"unknown audience {audience!r}; this policy knows: {', '.join(self.policy.audiences) or 'none'}"
            )

    def _consumed_modalities(self) -> dict[str, frozenset[Modality]]:
        """scorer → the modalities some category signal reads from it. A scorer is not run on
        samples whose scores no signal could count (e.g. speech exemplars on a prompt)."""
        used: dict[str, set[Modality]] = {}
        for cat in self.policy.categories.values():
            for sig in cat.signals:
                if sig.scorer in self.scorers:
                    used.setdefault(sig.scorer, set()).update(
                        sig.modalities or self.scorers[sig.scorer].modalities)
        return {n: frozenset(m) for n, m in used.items()}

    def score_samples(self, samples: Sequence[Sample], *, every_modality: bool = False,
                      ) -> tuple[list[Score], dict[str, ScorerStatus]]:
        """Route samples to the scorers that accept their modality and whose scores some signal
        reads (`every_modality=True`: all the scorer accepts, for caches that outlive a policy
        edit). Never raises for a scorer."""
        statuses = dict(self.unavailable)
        scores: list[Score] = []
        for name, scorer in self.scorers.items():
            wanted = scorer.modalities if every_modality else self._consumed.get(name, frozenset())
            mine = [s for s in samples if s.modality in scorer.modalities and s.modality in wanted]
            if not mine:
                continue
            try:
                scores.extend(scorer.score(mine))
            except Exception as exc:  # noqa: BLE001 - a crashing scorer fails closed, never allows
                statuses[name] = self._status(name, "failed", f"{type(exc).__name__}: {exc}")
                log.error("SAFETY: scorer %s failed: %s", name, type(exc).__name__)
        return scores, statuses

    def apply_consent(self, scores: list[Score], user: str | None) -> list[Score]:
        """Likeness consent: a match for a person who granted consent to this user (or everyone)
        stops counting (modpipe.likeness.consent). If the registry cannot be read, the matches
        keep their values (fail closed) and say so in their evidence."""
        if not any("person_id" in s.evidence for s in scores):
            return scores
        from modpipe.likeness import get_registry
        from modpipe.likeness.consent import apply_consent

        try:
            return apply_consent(scores, user, get_registry(self.resources))
        except ModpipeError as exc:
            log.error("SAFETY: consent lookup failed (%s); likeness matches count", type(exc).__name__)
            return [s.with_value(s.value, consent="error") if "person_id" in s.evidence else s for s in scores]

    def decide(self, kind: str, scores: list[Score], statuses: dict[str, ScorerStatus],
               audience: str | None, *, error: ErrorInfo | None = None, **fields: Any) -> Decision:
        provenance = self.load_extractors()[2] if kind == "scan" else self.provenance
        d = decide(self.policy, provenance, kind, scores, statuses, audience, error=error, **fields)
        if any(s.evidence.get("consent") == "granted" for s in scores):
            from modpipe.likeness.consent import consent_reasons

            d = d.model_copy(update={"reasons": [*d.reasons, *consent_reasons(scores)]})
        return d

    # ------------------------------------------------------------------ pre-generation gate

    def gate_samples(self, prompt: str, images: Iterable[Any] = (),
                     reading: translate.Reading | None = None) -> list[Sample]:
        """Validate and normalise a prompt (+ its English `reading` when it is in another
        language, + reference images) into samples to score (`modpipe.gate.prompt_samples`)."""
        return gate.prompt_samples(self, prompt, images, reading)[0]

    def read_languages(self, prompts: Sequence[Any]) -> list[translate.Reading | None]:
        """Each prompt's language and English translation (`modpipe.text.translate`); None for
        English, for bad input, and for every prompt when no translator is installed."""
        ok = [i for i, p in enumerate(prompts) if isinstance(p, str) and len(p) <= self.settings.max_prompt_chars]
        out: list[translate.Reading | None] = [None] * len(prompts)
        if self._translate and ok:
            try:
                for i, r in zip(ok, translate.read([prompts[i] for i in ok]), strict=True):
                    out[i] = r if r is None or self.settings.translate == "read" else r.added()
            except Exception as exc:  # noqa: BLE001 - the prompt is then scored as written
                log.error("language reading failed (%s); prompts scored as written", type(exc).__name__)
        return out

    def unread(self, prompt: str, reading: translate.Reading | None) -> ScorerStatus | None:
        """The `language` status of a prompt in a language nothing here translates, or of emoji
        alone (`translate.unread`); the encoder skips the former unless the heads learned the
        language (`readable`), and reads the latter through the emoji's names."""
        return translate.unread(prompt, reading, self.policy.languages, self.text_languages, self.unread_categories)

    def read_text(self, samples: Sequence[Sample], first_index: int) -> list[Sample]:
        """A video's on-screen text and speech read as a prompt is: in other languages also in
        English (`translate.text_variants`), and with the policy's coded words also in plain
        words (`euphemisms`, meta `euphemism`); the added samples get indices from `first_index`."""
        readings = self.read_languages([s.meta.get("as_read", s.text) for s in samples])
        out = translate.text_variants(samples, readings, first_index)
        plain = [(s, p) for s in out if s.text and (p := self.euphemisms(s.text))]
        nxt = max([first_index - 1, *(s.index for s in out)]) + 1
        return out + [replace(s, index=nxt + k, text=p, meta={**s.meta, "euphemism": True})
                      for k, (s, p) in enumerate(plain)]

    def gate(self, prompt: str, user: str | None = None, audience: str | None = None,
             images: Iterable[Any] = (), id: str | None = None) -> Decision:
        t0 = time.perf_counter()
        self.check_audience(audience)
        reading = self.read_languages([prompt])[0]  # None for bad input: prompt_samples raises
        samples, unread = gate.prompt_samples(self, prompt, images, reading)
        t1 = time.perf_counter()
        scores, statuses = self.score_samples(samples)
        scores = self.apply_consent(scores, user)
        t2 = time.perf_counter()
        d = self.decide("gate", scores, gate.with_unread(statuses, unread), audience, id=id, user=user,
                        timings={"normalize": round(t1 - t0, 5), "score": round(t2 - t1, 5),
                                 "total": round(time.perf_counter() - t0, 5)})
        d = gate.with_reading(d, reading, unread is not None)
        log.info("gate id=%s action=%s policy=%s", id, d.action, self.loaded.hash[:19])
        return d

    def gate_many(self, requests: Sequence[dict[str, Any]]) -> list[Decision]:
        """Gate many prompts with real batching (`modpipe.gate.gate_many`): one encoder forward
        per batch, then a decision per request. Each request is a dict with `text` and optional
        `id`, `user`, `audience`, `images`. A bad request yields an error decision (`review`) in
        its place; the rest go on."""
        return gate.gate_many(self, requests)

    # ------------------------------------------------------------------ post-generation scan

    def prepare_scan(self, video: str | Path, id: str | None = None) -> ScanInput:
        """ingest + sample (+ audio): decode and pick frames, no models. Runs as a CPU task under
        Ray (`modpipe.scan.prepare` needs only the policy). Media errors land in `.error`."""
        from modpipe.scan import prepare

        return prepare(video, self.policy, id=id)

    def score_scan(self, prepared: ScanInput, trace: ScanTrace | None = None, *,
                   every_modality: bool = False) -> tuple[list[Score], dict[str, ScorerStatus]]:
        """extract + score a prepared video: raw scores, no consent, no thresholds (tuning caches
        exactly these). ASR runs in a thread while frames are scored and read (OCR); then the
        transcript and on-screen text go through the text scorers in one batch. Pass a
        `ScanTrace` to keep the text samples and stage timings (reports, benchmarks)."""
        from modpipe.scan import extract_and_score

        return extract_and_score(self, prepared, trace if trace is not None else ScanTrace(), every_modality)

    def finish_scan(self, prepared: ScanInput, user: str | None = None,
                    audience: str | None = None, trace: ScanTrace | None = None) -> Decision:
        """extract + score + aggregate + decide for a prepared video (the model-bound part)."""
        self.check_audience(audience)
        timings = dict(prepared.timings)
        fields = {"id": prepared.id, "input": prepared.input, "user": user}
        if prepared.error is not None:
            log.warning("scan id=%s input error %s", prepared.id, prepared.error.type)
            return self.decide("scan", [], {**self.unavailable, **self.extractors_unavailable},
                               audience, error=prepared.error, timings=timings, **fields)
        trace = trace if trace is not None else ScanTrace()
        t0 = time.perf_counter()
        scores, statuses = self.score_scan(prepared, trace)
        scores = self.apply_consent(scores, user)
        timings.update(trace.timings)
        timings["score"] = round(time.perf_counter() - t0, 4)
        info = prepared.info
        media = {"duration_s": info.duration_s, "width": info.width, "height": info.height,
                 "fps": info.fps, "has_audio": info.has_audio, "frames_sampled": len(prepared.frames),
                 "speech_segments": sum(s.modality == Modality.SPEECH and "translated_from" not in s.meta
                                        for s in trace.text_samples),
                 "ocr_spans": sum(s.modality == Modality.OCR and "translated_from" not in s.meta
                                  for s in trace.text_samples),
                 "checked": _checked(info.has_audio, self.extractors)}
        d = self.decide("scan", scores, statuses, audience, timings=timings, media=media, **fields)
        if (read := translate.text_reason(trace.text_samples)) is not None:
            d = d.model_copy(update={"reasons": [*d.reasons, read]})
        log.info("scan id=%s action=%s policy=%s", d.id, d.action, self.loaded.hash[:19])
        return d

    def scan(self, video: str | Path, user: str | None = None, audience: str | None = None,
             id: str | None = None, trace: ScanTrace | None = None) -> Decision:
        """Scan one video. Media errors become a `review` decision with the error filled in."""
        self.check_audience(audience)
        t0 = time.perf_counter()
        prepared = self.prepare_scan(video, id=id)
        if trace is not None:
            trace.prepared = prepared
        d = self.finish_scan(prepared, user=user, audience=audience, trace=trace)
        return d.model_copy(update={"timings": {**d.timings, "total": round(time.perf_counter() - t0, 4)}})

    def close(self) -> None:
        for s in self.scorers.values():  # extractors live in Resources, closed below
            s.close()
        self.resources.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _checked(has_audio: bool, extractors: dict) -> list[str]:
    """What a scan looked at: frames always; speech and on-screen text when extracted."""
    return ["frames", *(["on-screen text"] if "ocr" in extractors else []),
            *(["speech"] if has_audio and "asr" in extractors else [])]
