"""On-screen text: the cheap no-text check, word re-segmentation and span merging (real RapidOCR)."""

from __future__ import annotations

import pytest

from modpipe.extract.ocr import OcrReader, has_text, resegment
from modpipe.testing.media import scene, text_frame
from modpipe.types import Modality, Sample


def test_resegment_puts_back_the_spaces_ocr_drops_but_keeps_real_long_words():
    assert resegment("KILLTHEINFIDELS") == "KILL THE INFIDELS"
    assert resegment("JOIN THE JIHAD.KILLTHE") == "JOIN THE JIHAD.KILL THE"
    assert resegment("jihadist propaganda") == "jihadist propaganda"


@pytest.fixture(scope="module")
def reader():
    return OcrReader(threads=1)


def test_plain_scenes_skip_ocr_and_text_does_not(reader):
    assert not has_text(reader._small(scene()))
    assert has_text(reader._small(text_frame("call a friend today")))
    assert has_text(reader._small(text_frame("never give up", base=scene())))


def test_identical_text_on_consecutive_frames_is_one_span_and_textless_frames_are_skipped(reader):
    images = [scene(), text_frame("STAY SAFE", base=scene()), text_frame("STAY SAFE", base=scene()),
              text_frame("STAY SAFE", base=scene()), scene(t=1.0)]
    frames = [Sample(i, Modality.FRAME, float(i), i + 1.0, image=img) for i, img in enumerate(images)]
    reader.stats = dict.fromkeys(reader.stats, 0)
    out = reader.extract(frames, first_index=10)
    assert [(s.index, s.start, s.end, s.text.upper()) for s in out] == [(10, 1.0, 4.0, "STAY SAFE")]
    assert reader.stats["read"] == 1 and reader.stats["reused"] == 2  # read once, held for 3 s
    assert reader.stats["skipped_no_text"] == 2
    assert reader.model_id.startswith("rapidocr-1.4.4/")
