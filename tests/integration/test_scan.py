"""The video scan end to end on small generated videos, with the shipped default policy and real
models (MiniLM, NudeNet, faster-whisper tiny.en, RapidOCR). Speech is real espeak-ng speech."""

from __future__ import annotations

import pytest

from modpipe.pipeline import Pipeline
from modpipe.settings import Settings
from modpipe.testing.media import pad_audio, photo, scene, speech, text_frame, write_video
from modpipe.types import ScanTrace

pytestmark = pytest.mark.heavy
FPS = 12


def video(path, seconds: float, said: str | None = None, frames=None):  # noqa: ANN001, ANN201
    """`seconds` of a benign scene (or the given frames), with `said` spoken from 0.3 s."""
    frames = frames or [scene(t=i / FPS) for i in range(int(seconds * FPS))]
    audio = pad_audio(speech(said, wpm=140), seconds, at=0.3) if said else None
    return write_video(path, frames, FPS, audio=audio)


def scan(pipeline: Pipeline, path):  # noqa: ANN001, ANN201
    trace = ScanTrace()
    return pipeline.scan(path, trace=trace), trace


def test_a_benign_video_with_speech_and_a_real_photo_is_allowed(pipeline, shared_data, tmp_path):
    face = sorted((shared_data / "media/images/deepface").glob("*.jpg"))[0]
    frames = [scene(t=i / FPS) for i in range(FPS * 2)] + [photo(face)] * (FPS * 2)
    d, trace = scan(pipeline, video(tmp_path / "b.mp4", 4, "Good morning. Today we bake bread in the kitchen.", frames))
    assert d.action == "allow", d.reasons
    heard = " ".join(s.text for s in trace.text_samples).lower()
    assert any(w in heard for w in ("morning", "bread", "kitchen")), heard  # tiny.en mishears some words
    assert d.media["checked"] == ["frames", "on-screen text", "speech"]
    assert {"asr", "ocr"} <= set(d.provenance.models)


def test_spoken_extremist_incitement_blocks_with_the_transcript_span_as_evidence(pipeline, tmp_path):
    d, _ = scan(pipeline, video(tmp_path / "t.mp4", 5, "Pick up your rifles and slaughter the infidels. Death to the crusaders."))
    terror = d.categories["terrorism"]
    assert d.action == "block" and terror.action == "block", d.reasons
    seg = terror.segments[0]
    assert seg.modality == "speech" and 0.0 <= seg.start < seg.end <= 5.2
    assert "infidels" in seg.evidence["text"].lower()


def test_extremist_slogan_on_screen_for_three_seconds_blocks_with_its_time_span(pipeline, tmp_path):
    slogan = text_frame("JOIN THE JIHAD. KILL THE INFIDELS", base=scene())
    frames = [scene(t=i / FPS) for i in range(FPS)] + [slogan] * (FPS * 3) + [scene(t=i / FPS) for i in range(FPS)]
    d, _ = scan(pipeline, video(tmp_path / "s.mp4", 5, frames=frames))
    terror = d.categories["terrorism"]
    assert terror.action == "block", d.reasons
    seg = next(s for s in terror.segments if s.modality == "ocr")
    assert seg.start == pytest.approx(1.0, abs=0.5) and seg.end == pytest.approx(4.0, abs=0.5)


def test_spoken_encouragement_of_self_harm_blocks(pipeline, tmp_path):
    d, _ = scan(pipeline, video(tmp_path / "h.mp4", 5, "You are worthless. Cut your wrists and end it tonight."))
    assert d.categories["self_harm"].action == "block", d.reasons


def test_a_suicide_prevention_message_is_allowed(pipeline, tmp_path):
    d, trace = scan(pipeline, video(tmp_path / "p.mp4", 6,
                                    "If you are thinking about suicide, please reach out. Call a crisis line, you are not alone."))
    assert "suicide" in " ".join(s.text for s in trace.text_samples).lower()
    assert d.action == "allow", d.reasons


def test_a_quarter_second_flash_of_harmful_text_blocks(pipeline, tmp_path):
    frames = [scene(t=i / 24) for i in range(58)] + [text_frame("KILL ALL THE INFIDELS")] * 6
    frames += [scene(t=i / 24) for i in range(40)]
    path = write_video(tmp_path / "f.mp4", frames, 24)
    d, _ = scan(pipeline, path)
    assert d.action == "block" and d.categories["terrorism"].action == "block", d.reasons
    seg = d.categories["terrorism"].segments[0]
    assert seg.start == pytest.approx(2.42, abs=0.05) and seg.end <= 2.75


def test_a_video_without_audio_is_checked_visually_only(pipeline, tmp_path):
    d, trace = scan(pipeline, video(tmp_path / "n.mp4", 2))
    assert d.action == "allow" and d.media["has_audio"] is False
    assert d.media["checked"] == ["frames", "on-screen text"] and not trace.text_samples


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 40, "truncated"])
def test_broken_files_become_error_records_with_review(pipeline, tmp_path, content):
    path = tmp_path / "broken.mp4"
    if content == "truncated":
        good = video(tmp_path / "good.mp4", 2)
        content = good.read_bytes()[: good.stat().st_size // 2]
    path.write_bytes(content)
    d = pipeline.scan(path)
    assert d.action == "review" and d.error is not None and d.error.type in {"EmptyMediaError", "MediaError"}
    assert d.reasons[0].startswith("input error")


def test_a_broken_asr_model_makes_the_text_fed_categories_review_and_says_why(tmp_path):
    bad = tmp_path / "whisper-missing"
    bad.mkdir()
    pipe = Pipeline.from_policy(settings=Settings(home=tmp_path, whisper_model=str(bad)))
    try:
        d = pipe.scan(video(tmp_path / "v.mp4", 2, "Hello there."))
    finally:
        pipe.close()
    assert any(s.scorer == "asr" and s.status == "unavailable" for s in d.scorers)
    assert d.categories["terrorism"].action == "review"
    assert "extractor 'asr' unavailable" in d.categories["terrorism"].reasons[-1]
    assert d.categories["sexual"].action == "review"  # its text signal reads speech too
    # the default policy says `on_unavailable: block` for sexual_minors: unheard speech blocks
    assert d.categories["sexual_minors"].action == "block" and d.action == "block"


def test_the_reviewer_page_shows_the_evidence_frames_timeline_and_flagged_text(pipeline, tmp_path):
    from modpipe.report.html import write_html

    slogan = text_frame("KILL ALL THE INFIDELS", base=scene())
    frames = [scene(t=i / FPS) for i in range(FPS)] + [slogan] * (FPS * 2)
    trace = ScanTrace()
    d = pipeline.scan(video(tmp_path / "r.mp4", 3, "Good evening everyone.", frames), trace=trace)
    page = write_html(tmp_path / "report.html", pipeline.policy, d, trace).read_text()
    assert "BLOCK" in page.upper() and "terrorism" in page
    assert page.count("data:image/jpeg;base64,") >= 1  # thumbnails of the flagged frames
    assert "data:image/png;base64," in page  # the score timeline
    assert 'class="line flag"' in page and "INFIDELS" in page  # the flagged on-screen text
    assert "Transcript" in page and trace.text_samples[0].text in page  # the transcript
