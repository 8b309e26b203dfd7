"""Faces with dlib: HOG frontal detector → 5-point landmarks → ResNet 128-d embedding.

The model files ship in the `face_recognition_models` package; we only locate its `models/`
folder (its `__init__` needs pkg_resources, so it is never imported). dlib itself is imported
when a `FaceEngine` is built, never at module import.

Small faces: HOG finds faces down to ~80 px at upsample 0 and ~40 px at upsample 1, so frames
are detected at `upsample` (default 1: a ~40 px face in a 640×360 frame is found). Large photos
are first downscaled to `max_side` (detection cost grows with pixels; the embedding uses a
150 px chip anyway). Embeddings of all faces in a batch of images go through the ResNet in one
call.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modpipe.errors import InputError, ModelUnavailableError

DETECTOR = "dlib-hog-frontal"
PREDICTOR = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError("face_recognition_models is not installed",
                                    hint="pip install face-recognition-models")
    d = Path(next(iter(spec.submodule_search_locations))) / "models"
    for f in (PREDICTOR, RESNET):
        if not (d / f).is_file():
            raise ModelUnavailableError(f"face model file missing: {d / f}")
    return d


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the input image's pixels
    score: float  # detector confidence (HOG margin)
    embedding: np.ndarray  # (128,) float32


class FaceEngine:
    """Load once (keep it in `Resources`), then `faces(images)` per batch."""

    def __init__(self, upsample: int = 1, max_side: int = 1024, jitter: int = 0) -> None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - dlib-bin is a core dependency
            raise ModelUnavailableError("dlib is not installed", hint="pip install dlib-bin") from exc
        d = models_dir()
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(d / PREDICTOR))
        self.resnet = dlib.face_recognition_model_v1(str(d / RESNET))
        self.upsample = upsample
        self.max_side = max_side
        self.jitter = jitter
        self.model_id = f"{DETECTOR}+{PREDICTOR}+{RESNET}@dlib-{dlib.__version__}"

    def _prepare(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"faces need an H×W×3 uint8 RGB image, got {img.shape} {img.dtype}")
        scale = min(1.0, self.max_side / max(img.shape[:2]))
        if scale < 1.0:
            import cv2

            img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(img), scale

    def faces(self, images: list[np.ndarray], upsample: int | None = None) -> list[list[Face]]:
        """Every face in every image: detection per image, one batched ResNet call for all."""
        up = self.upsample if upsample is None else upsample
        prepared = [self._prepare(im) for im in images]
        dets: list[Any] = []
        for img, _ in prepared:
            rects, scores, _ = self.detector.run(img, up, 0.0)
            shapes = self._dlib.full_object_detections()
            for r in rects:
                shapes.append(self.predictor(img, r))
            dets.append((rects, scores, shapes))
        with_faces = [i for i, d in enumerate(dets) if len(d[0])]
        descs = self.resnet.compute_face_descriptor(
            [prepared[i][0] for i in with_faces], [dets[i][2] for i in with_faces], self.jitter,
        ) if with_faces else []
        out: list[list[Face]] = [[] for _ in images]
        for i, vecs in zip(with_faces, descs, strict=True):
            rects, scores, _ = dets[i]
            s = prepared[i][1]
            h, w = np.asarray(images[i]).shape[:2]
            for r, sc, v in zip(rects, scores, vecs, strict=True):
                box = (max(0, round(r.left() / s)), max(0, round(r.top() / s)),
                       min(w, round(r.right() / s)), min(h, round(r.bottom() / s)))
                out[i].append(Face(box, float(sc), np.asarray(v, np.float32)))
        return out

    def close(self) -> None:
        self.detector = self.predictor = self.resnet = None


def load_photo(path: str | Path) -> np.ndarray:
    """An image file → RGB uint8 (EXIF orientation applied). Bad files raise InputError."""
    from modpipe.ingest.images import load_image

    return load_image(Path(path))


def one_face(engine: FaceEngine, image: np.ndarray, name: str) -> Face:
    """The single face in an enrolment photo; a clear error naming the photo otherwise.
    Tries upsample 0 first (fast on big photos) and then the engine's upsample."""
    found = engine.faces([image], upsample=0)[0] or engine.faces([image])[0]
    if len(found) != 1:
        what = "no face" if not found else f"{len(found)} faces"
        raise InputError(f"{name}: found {what}; an enrolment photo must show exactly one face")
    return found[0]
