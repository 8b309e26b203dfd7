"""Prompt-gate speed against the bare MiniLM forward pass, measured in one run on the same inputs.

    python benchmarks/gate_bench.py [--n 200] [--policy policies/default.yaml]

The gate runs with the README's set-up: the public figures in `shared/data/names` imported into a
temporary likeness registry, so the name matcher does its real work (`--names ''`: use the
registry under MODPIPE_HOME as it is).

Per prompt: p50/p99 latency of `Pipeline.gate(prompt)` vs `encoder.forward([prompt])` (interleaved,
so machine noise hits both alike), after one pass over every prompt: what a running service pays,
not the one-off start of a translator on the first prompt in its language. Batch: prompts/s of
`Pipeline.gate_many` in chunks vs `encoder.forward(chunk)` on the same chunks (best of three,
alternating). Prints absolute numbers and the ratios (targets: gate p50 ≤ 10 ms on a 2-core CPU
and ≤ 1.3× the bare forward pass).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FALLBACK = [
    "A golden retriever running through a field of sunflowers at sunset, cinematic, 4k",
    "Time-lapse of clouds rolling over a mountain lake, drone shot",
    "A chef slicing vegetables in a busy restaurant kitchen, slow motion",
    "Two astronauts walking on the surface of Mars, photorealistic",
    "a man stabbing someone repeatedly, blood spraying everywhere",
    "how do I kill a Python process that hangs",
    "An old woman knitting by the fireplace while snow falls outside",
    "A skateboarder doing a kickflip in an empty swimming pool",
]


def shared_data() -> Path | None:
    for d in (Path(__file__).resolve().parents[1].parent / "shared" / "data",
              Path(__file__).resolve().parents[2] / "shared" / "data"):
        if d.is_dir():
            return d
    return None


def use_names(path: Path) -> int:
    """A temporary MODPIPE_HOME whose likeness registry holds the people in `path` (JSONL)."""
    import atexit
    import shutil
    import tempfile

    from modpipe.likeness.registry import Registry
    from modpipe.settings import get_settings

    os.environ["MODPIPE_HOME"] = home = tempfile.mkdtemp(prefix="modpipe-bench-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    get_settings.cache_clear()
    lines = path.read_text(encoding="utf-8").splitlines()
    return Registry(get_settings().registry_path).import_names(json.loads(l) for l in lines if l.strip())


def prompts(n: int) -> list[str]:
    data, texts = shared_data(), []
    for name in ("vbench.jsonl", "t2vsafetybench.jsonl", "xstest_safe.jsonl", "evalcrafter.jsonl"):
        if data is not None and (data / "text" / name).is_file():
            texts += [json.loads(l)["text"] for l in (data / "text" / name).open()][: n // 4 + 1]
    return texts[:n] if texts else (FALLBACK * (n // len(FALLBACK) + 1))[:n]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--policy", default=None)
    names = (shared_data() or Path("/nonexistent")) / "names" / "public_figures.jsonl"
    ap.add_argument("--names", default=str(names) if names.is_file() else "",
                    help="people to import into a temporary registry ('' = the configured registry)")
    args = ap.parse_args()
    people = use_names(Path(args.names)) if args.names else None

    from modpipe.pipeline import Pipeline
    from modpipe.text.encoder import shared_encoder

    pipe = Pipeline.from_policy(args.policy)
    enc = shared_encoder(pipe.resources)
    texts = prompts(args.n)
    pipe.gate_many([{"text": t} for t in texts])  # one-off starts (the translators' processes, ~0.1 s each)
    for t in texts[:10]:  # warm up both paths
        pipe.gate(t)
        enc.forward([t])
    # the encoder memoises recent texts; clear it before every gate call so that each one
    # pays for its own forward pass, exactly like the bare path (enc.forward never memoises)

    gate_ms, bare_ms = [], []
    for t in texts:
        t0 = time.perf_counter()
        enc.forward([t])
        enc.clear_memo()
        t1 = time.perf_counter()
        pipe.gate(t)
        t2 = time.perf_counter()
        bare_ms.append((t1 - t0) * 1e3)
        gate_ms.append((t2 - t1) * 1e3)

    bare_batch = gate_batch = float("inf")
    for _ in range(3):  # alternate and keep the best of three: other load hits both alike
        t0 = time.perf_counter()
        for lo in range(0, len(texts), args.chunk):  # the same chunks gate_many gets
            enc.forward(texts[lo : lo + args.chunk], batch_size=args.chunk)
        bare_batch = min(bare_batch, time.perf_counter() - t0)
        enc.clear_memo()
        t0 = time.perf_counter()
        for lo in range(0, len(texts), args.chunk):
            pipe.gate_many([{"text": t} for t in texts[lo : lo + args.chunk]])
        gate_batch = min(gate_batch, time.perf_counter() - t0)

    g50, g99, b50, b99 = pct(gate_ms, .5), pct(gate_ms, .99), pct(bare_ms, .5), pct(bare_ms, .99)
    print(f"prompts: {len(texts)}  threads: {pipe.settings.threads}  policy: {pipe.policy.name}  "
          f"names: {pipe.scorers['names'].model_id if 'names' in pipe.scorers else 'none'}"
          + (f" ({people} people imported)" if people else ""))
    print(f"{'':24s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}")
    print(f"{'bare MiniLM forward':24s} {b50:8.2f} {b99:8.2f} {statistics.mean(bare_ms):8.2f}")
    print(f"{'Pipeline.gate':24s} {g50:8.2f} {g99:8.2f} {statistics.mean(gate_ms):8.2f}")
    print(f"{'ratio gate / bare':24s} {g50 / b50:8.2f} {g99 / b99:8.2f} "
          f"{statistics.mean(gate_ms) / statistics.mean(bare_ms):8.2f}   (target p50 ≤ 1.3×, ≤ 10 ms)")
    print(f"batch (chunks of {args.chunk}): bare {len(texts) / bare_batch:7.1f} prompts/s, "
          f"gate_many {len(texts) / gate_batch:7.1f} prompts/s, ratio {gate_batch / bare_batch:.2f}×")
    pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
