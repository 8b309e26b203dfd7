"""The real loaders for weights users bring (open_clip, openai-whisper), run end to end on tiny
randomly initialised models built here. Random weights say nothing about content: these tests
check that the code paths load, run and return well-formed results, not what they say."""

from __future__ import annotations


import numpy as np
import pytest

from modpipe.pipeline import Pipeline
from modpipe.policy.loader import parse_policy
from modpipe.resources import Resources
from modpipe.settings import Settings
from modpipe.testing.media import pad_audio, scene, speech, text_frame
from modpipe.types import Modality, Sample


def test_clip_zeroshot_scores_frames_with_a_tiny_random_open_clip_model(tiny_clip, tmp_path):
    lp = parse_policy(f"""
version: 1
name: clip-only
extraction: {{asr: false, ocr: false}}
scorers:
  clip:
    type: clip_zeroshot
    params:
      model: tiny-clip
      model_config_path: {tiny_clip / "tiny-clip.json"}
      weights: {tiny_clip / "tiny-clip.pt"}
      prompts:
        terrorism: {{positive: [a photo of an ISIS flag], negative: [a photo of a street]}}
        gore: {{positive: [a bloody corpse, graphic gore], negative: [people talking]}}
categories:
  terrorism: {{signals: [{{scorer: clip, label: terrorism}}], review_at: 0.5, block_at: 0.9}}
""")
    pipe = Pipeline(lp, Settings(home=tmp_path))
    try:
        assert pipe.unavailable == {}
        assert pipe.provenance.models["clip"].startswith("open_clip/tiny-clip@sha256:")
        frames = [Sample(i, Modality.FRAME, float(i), i + 1.0, image=img)
                  for i, img in enumerate([scene(), text_frame("hello")])]
        scores, statuses = pipe.score_samples(frames)
    finally:
        pipe.close()
    assert statuses == {}
    assert {(s.sample, s.label) for s in scores} == {(i, lab) for i in (0, 1) for lab in ("terrorism", "gore")}
    assert all(0.0 <= s.value <= 1.0 and s.start is not None for s in scores)


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory):
    """A 1-layer openai-whisper model with the real English tokenizer's vocabulary, random weights,
    saved the way openai-whisper saves checkpoints."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2,
                           n_audio_layer=1, n_vocab=51864, n_text_ctx=64, n_text_state=64,
                           n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    model = Whisper(dims)
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.en.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


def test_openai_whisper_backend_loads_a_checkpoint_and_returns_timed_segments(tiny_whisper, tmp_path):
    from modpipe.extract.asr import OpenAIWhisper, load_transcriber

    asr = load_transcriber(Settings(home=tmp_path, whisper_model=str(tiny_whisper)), "en")
    assert isinstance(asr, OpenAIWhisper)
    assert asr.model_id.startswith("openai-whisper/tiny-random.en@sha256:")
    audio = pad_audio(speech("Hello there, how are you today?"), 3.0)
    segments = list(asr.segments(audio))  # random weights: any words (maybe none), real times
    assert segments and all(0.0 <= start <= end for start, end, _, _ in segments)
    samples = asr.extract(audio, first_index=7)
    for s in samples:
        assert s.modality == Modality.SPEECH and s.index >= 7
        assert 0.0 <= s.start <= s.end and isinstance(s.text, str) and s.text


def test_faster_whisper_tiny_en_transcribes_espeak_speech_with_word_times(tmp_path):
    from modpipe.extract.asr import FasterWhisper, load_transcriber

    asr = Resources(Settings(home=tmp_path)).get("asr", lambda: load_transcriber(Settings(home=tmp_path)))
    assert isinstance(asr, FasterWhisper) and "int8" in asr.model_id
    samples = asr.extract(pad_audio(speech("The cat sat on the mat. It was happy."), 5.0, at=1.0), 0)
    assert samples and samples[0].start >= 0.5  # speech begins at 1 s
    text = " ".join(s.text for s in samples).lower()
    assert "mat" in text and "happy" in text
    # how Whisper splits the two sentences into segments shifts with float rounding (BLAS
    # threads); the word times are what evidence needs: ordered, inside their segment
    words = [w for s in samples for w in s.meta["words"]]
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(words, words[1:], strict=False))
    assert all(s.start - 1e-6 <= w["start"] <= w["end"] <= s.end + 1e-6
               for s in samples for w in s.meta["words"])
    mat = next(w for w in words if "mat" in w["word"].lower())
    happy = next(w for w in words if "happy" in w["word"].lower())
    assert 1.0 <= mat["start"] < happy["start"] <= 5.0
    assert asr.extract(np.zeros(16000 * 2, np.float32), 0) == []  # silence: no hallucinated text
