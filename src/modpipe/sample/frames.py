"""Frame sampling in one decoding pass: uniform at `fps`, plus frames at cuts and flashes.

Every decoded frame is shrunk to a small grey image (`analysis_width` wide) — cheap — and
compared with the previous one. A frame whose mean absolute difference exceeds
`change_threshold` (a cut), or where a patch changed strongly (text flashed over the scene),
starts a new shot or a flash and is kept at full resolution, so a harmful
frame shown for a quarter of a second between benign ones is always sampled. Uniform frames are
taken on presentation timestamps. Over `max_frames`, uniform frames are thinned before change
frames are dropped. Each sample covers [t, t_next) in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modpipe.ingest.media import iter_frames
from modpipe.policy.schema import Sampling
from modpipe.types import MediaInfo, Modality, Sample

# A local change (text or an object flashed over an unchanged scene) barely moves the mean
# difference: a frame where LOCAL_AREA of the pixels changed by more than LOCAL_DIFF is kept too,
# at most one such frame per LOCAL_GAP_S (so camera motion cannot flood the sampler).
LOCAL_DIFF = 0.2
LOCAL_AREA = 0.004
LOCAL_GAP_S = 0.2


def sample_frames(path: str | Path, info: MediaInfo, sampling: Sampling,
                  backend: str | None = None) -> list[Sample]:
    step = 1.0 / sampling.fps
    next_uniform = 0.0
    prev_small: np.ndarray | None = None
    kept: list[tuple[float, np.ndarray, str, float]] = []  # (t, rgb, reason, change)
    aw = sampling.analysis_width
    ah = max(2, round(aw * info.height / max(info.width, 1)) // 2 * 2)
    last_change = -1.0
    for t, frame in iter_frames(path, max_errors=sampling.max_decode_errors, backend=backend):
        reason = None
        change = 0.0
        if sampling.change_aware:
            small = frame.to_ndarray(format="gray", width=aw, height=ah).astype(np.float32)
            if prev_small is not None:
                diff = np.abs(small - prev_small) / 255.0
                change = float(diff.mean())
                local = float((diff > LOCAL_DIFF).mean()) >= LOCAL_AREA and t - last_change >= LOCAL_GAP_S
                if change >= sampling.change_threshold or local:
                    reason, last_change = "change", t
            prev_small = small
        if t + 1e-6 >= next_uniform:
            reason = reason or "uniform"
            next_uniform = (np.floor(t / step + 1e-6) + 1) * step
        if reason:
            kept.append((t, frame.to_ndarray(format="rgb24"), reason, change))
    kept = _cap(kept, sampling.max_frames)
    samples = []
    for i, (t, rgb, reason, change) in enumerate(kept):
        end = kept[i + 1][0] if i + 1 < len(kept) else max(info.duration_s, t + step / 2)
        samples.append(Sample(
            index=i, modality=Modality.FRAME, start=round(t, 3), end=round(max(end, t), 3),
            image=rgb, meta={"reason": reason, "change": round(change, 4)},
        ))
    return samples


def _cap(kept: list, max_frames: int) -> list:
    if len(kept) <= max_frames:
        return kept
    change = [k for k in kept if k[2] == "change"]
    uniform = [k for k in kept if k[2] != "change"]
    room = max_frames - min(len(change), max_frames // 2)
    if len(uniform) > room:
        idx = np.linspace(0, len(uniform) - 1, room).round().astype(int)
        uniform = [uniform[i] for i in sorted(set(idx))]
    change = change[: max_frames - len(uniform)]
    return sorted(uniform + change, key=lambda k: k[0])
