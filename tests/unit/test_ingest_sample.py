"""Ingest and sampling on small generated videos, the same checks over both decoding backends."""

from __future__ import annotations

import numpy as np
import pytest

from modpipe.errors import EmptyMediaError, MediaError, NotVideoError
from modpipe.ingest import iter_frames, load_audio, probe
from modpipe.policy.schema import Sampling
from modpipe.sample import sample_frames
from modpipe.testing.media import pad_audio, scene, text_frame, write_video

FPS = 24


@pytest.fixture(scope="module")
def flash_video(tmp_path_factory):
    """2.42 s of scene, 0.25 s of text (6 frames), 1.83 s of scene; a 1 kHz tone as audio."""
    frames = [scene(t=i / FPS) for i in range(58)]
    frames += [text_frame("FLASHED TEXT")] * 6
    frames += [scene(t=2.6 + i / FPS) for i in range(FPS * 4 - 58)]
    tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(16000 * 4) / 16000)).astype(np.float32)
    return write_video(tmp_path_factory.mktemp("v") / "flash.mp4", frames, FPS, audio=pad_audio(tone, 4.0))


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_both_backends_yield_every_frame_with_timestamps_from_pts(flash_video, backend):
    frames = list(iter_frames(flash_video, backend=backend))
    assert len(frames) == FPS * 4 + 6
    times = [t for t, _ in frames]
    assert times[0] == pytest.approx(0.0, abs=1e-3) and times[1] == pytest.approx(1 / FPS, abs=1e-3)
    assert np.all(np.diff(times) > 0)
    rgb = frames[50][1].to_ndarray(format="rgb24")
    gray = frames[50][1].to_ndarray(format="gray", width=160, height=90)
    assert rgb.shape == (360, 640, 3) and gray.shape == (90, 160)


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_a_quarter_second_flash_between_benign_frames_is_sampled(flash_video, backend):
    info = probe(flash_video, backend)
    samples = sample_frames(flash_video, info, Sampling(fps=1.0), backend)
    flash = [s for s in samples if 2.4 <= s.start < 2.65]
    assert flash and flash[0].meta["reason"] == "change"
    assert flash[0].image.mean() < 60  # the dark text card, not the bright scene
    assert flash[0].end == pytest.approx(2.667, abs=0.01)  # it lasts until the cut back
    # uniform frames at 1 fps from timestamps, plus the cuts into and out of the flash
    assert [s.start for s in samples if s.meta["reason"] == "uniform"] == pytest.approx([0, 1, 2, 3, 4], abs=0.05)


def test_without_change_aware_sampling_the_flash_is_missed(flash_video):
    samples = sample_frames(flash_video, probe(flash_video), Sampling(fps=1.0, change_aware=False))
    assert not [s for s in samples if 2.4 <= s.start < 2.65]


def test_max_frames_caps_long_videos_thinning_uniform_frames_first(flash_video):
    samples = sample_frames(flash_video, probe(flash_video), Sampling(fps=10.0, max_frames=8))
    assert len(samples) == 8
    assert any(s.meta["reason"] == "change" for s in samples)
    assert [s.index for s in samples] == list(range(8))


def test_audio_is_mono_float32_at_16k_and_absent_audio_is_none(flash_video, tmp_path):
    audio = load_audio(flash_video)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / 16000 == pytest.approx(4.0, abs=0.15)  # AAC adds a few ms
    assert probe(flash_video).has_audio
    silent = write_video(tmp_path / "silent.mp4", [scene()] * 12, 12)
    assert not probe(silent).has_audio and load_audio(silent) is None


def test_bad_files_raise_clear_media_errors(flash_video, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyMediaError, match="0 bytes"):
        probe(empty)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(flash_video.read_bytes()[: flash_video.stat().st_size // 3])
    with pytest.raises(MediaError, match="truncated|invalid data"):
        probe(truncated)
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(NotVideoError, match="no video stream"):
        probe(text)
    disguised = tmp_path / "notes.mp4"
    disguised.write_text("this is not a video either\n" * 50)
    with pytest.raises(MediaError, match="not a media file"):
        probe(disguised)
    with pytest.raises(MediaError, match="no such file"):
        probe(tmp_path / "missing.mp4")


def test_text_flashed_over_an_unchanged_scene_is_sampled_too(tmp_path):
    base = scene()
    frames = [base] * 29 + [text_frame("FLASH", base=base)] * 6 + [base] * 25
    path = write_video(tmp_path / "overlay.mp4", frames, FPS)
    samples = sample_frames(path, probe(path), Sampling(fps=1.0))
    assert [s.meta["reason"] for s in samples if 1.2 <= s.start < 1.45] == ["change"]
    assert len(samples) <= 5  # the uniform frames, the flash and the cut back: no flood
