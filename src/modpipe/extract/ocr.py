"""On-screen text: RapidOCR (PP-OCRv4 ONNX, shipped in `rapidocr-onnxruntime`) on sampled frames.

Cheap where a frame has no text, in three steps per frame:
1. a **stroke-density check** on a small grey copy (horizontal gradients closed into word-shaped
   blobs): a frame with no text-like blob skips OCR entirely;
2. a frame where almost no pixel changed strongly since the previous one reuses its result
   (a slogan held for seconds is read once; text appearing over the same scene is not missed);
3. the detector runs at a capped size, and the recogniser only on the boxes it found.
Consecutive frames with the same text become one OCR sample spanning all of them. RapidOCR's
English recogniser drops spaces ("KILLTHEINFIDELS"); long letter runs are re-segmented into
words (`modpipe.text.words.resegment`) before the text scorers see them, and the line as read is
kept (`meta["as_read"]`): wordninja splits words of other languages into English fragments
("FELIZ CUMPLEANOS" → "FELIZ CUM PLEA NOS"), so a line in another language is translated from
what was read (`modpipe.text.translate.text_variants`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modpipe.errors import ModelUnavailableError
from modpipe.extract.base import Extractor
from modpipe.text.words import resegment
from modpipe.types import Modality, Sample


def has_text(gray: np.ndarray, min_blobs: int = 1) -> bool:
    """Cheap stroke-density check on a small grey image (~320 px wide): are there word-shaped
    blobs of strong horizontal gradient? Plain scenes, skies and faces mostly say no."""
    import cv2

    h, w = gray.shape
    gx = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    _, edges = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if edges.mean() < 255 * 0.004:  # almost no strong edges at all
        return False
    blobs = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    found = 0
    for x, y, bw, bh, area in stats[1:]:
        if 4 <= bh <= h * 0.25 and bw >= 1.5 * bh and bw >= 12:
            density = edges[y:y + bh, x:x + bw].mean() / 255
            if density > 0.25 and area / (bw * bh) > 0.45:
                found += 1
    return found >= min_blobs


class OcrReader(Extractor):
    name = "ocr"
    modality = Modality.OCR

    def __init__(self, threads: int = 2, det_side: int = 640, min_score: float = 0.6,
                 check_width: int = 320, reuse_below: float = 0.002) -> None:
        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ModelUnavailableError("RapidOCR is not installed",
                                        hint="pip install rapidocr-onnxruntime==1.4.4") from exc
        self.engine = RapidOCR(det_limit_side_len=det_side, det_limit_type="max", use_cls=False,
                               intra_op_num_threads=threads, inter_op_num_threads=1)
        models = Path(rapidocr_onnxruntime.__file__).parent / "models"
        h = hashlib.sha256()
        for f in sorted(models.glob("*PP-OCRv4*.onnx")):
            h.update(f.read_bytes())
        self._model_id = f"rapidocr-{_version()}/PP-OCRv4-det+rec@sha256:{h.hexdigest()[:12]}"
        self.min_score, self.check_width, self.reuse_below = min_score, check_width, reuse_below
        self.stats = {"frames": 0, "skipped_no_text": 0, "reused": 0, "read": 0}

    @property
    def model_id(self) -> str:
        return self._model_id

    def read(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        """(text, confidence) for each text line in an RGB frame, top to bottom."""
        result, _ = self.engine(np.ascontiguousarray(rgb[:, :, ::-1]), use_cls=False)
        return [(str(t), float(c)) for _, t, c in (result or []) if float(c) >= self.min_score and str(t).strip()]

    def _small(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = rgb.shape[:2]
        size = (self.check_width, max(8, round(h * self.check_width / max(w, 1))))
        return cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)

    def extract(self, frames: Sequence[Sample], first_index: int) -> list[Sample]:
        """OCR samples for the frames (in time order); identical text on consecutive frames is
        one sample spanning them."""
        spans: list[dict] = []
        prev_small: np.ndarray | None = None
        prev_text = prev_raw = ""
        for f in sorted(frames, key=lambda s: s.start or 0.0):
            self.stats["frames"] += 1
            small = self._small(f.image)
            if prev_small is not None and _same_picture(small, prev_small, self.reuse_below):
                self.stats["reused"] += 1
                text, raw = prev_text, prev_raw
            elif not has_text(small):
                self.stats["skipped_no_text"] += 1
                text = raw = ""
            else:
                self.stats["read"] += 1
                lines = self.read(f.image)
                raw = " ".join(t for t, _ in lines)
                text = resegment(raw)
                conf = min((c for _, c in lines), default=0.0)
            prev_small, prev_text, prev_raw = small, text, raw
            if not text:
                continue
            if spans and spans[-1]["text"] == text and spans[-1]["last"] == f.index - 1:
                spans[-1].update(end=f.end, last=f.index)
            else:
                spans.append({"text": text, "raw": raw, "start": f.start, "end": f.end, "first": f.index,
                              "last": f.index, "conf": round(conf, 3)})
        return [
            Sample(index=first_index + i, modality=Modality.OCR, start=s["start"], end=s["end"],
                   text=s["text"], meta={"frames": [s["first"], s["last"]], "confidence": s["conf"],
                                         **({"as_read": s["raw"]} if s["raw"] != s["text"] else {})})
            for i, s in enumerate(spans)
        ]


def _same_picture(a: np.ndarray, b: np.ndarray, max_changed: float) -> bool:
    """True when almost no pixel changed strongly (codec noise is weak; new text is strong)."""
    return np.count_nonzero(np.abs(a.astype(np.int16) - b) > 32) / a.size < max_changed


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"
