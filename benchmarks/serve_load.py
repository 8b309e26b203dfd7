"""Load benchmark for the HTTP gate: `modpipe serve` on loopback under fixed concurrency.

    python benchmarks/serve_load.py [--duration 60] [--concurrency 32] [--endpoint gate] [--client wrk]

1. baseline: the bare pipeline in this process, `gate_many` on batches of the same short prompts
   (the model-bound ceiling on this machine right now);
2. the server: `python -m modpipe.cli.main serve --host 127.0.0.1` in a subprocess, waited on
   until /readyz is 200, then `--concurrency` connections post distinct prompts for `--duration` s.
   The client is `wrk` (C, `apt-get install wrk`; `make bench-serve` installs it) when found: on a
   2-core machine the load generator shares the cores with the server, and a Python client
   (`--client httpx`) spends more CPU per request than the server does, so it measures itself.

Prints requests/s, p50/p90/p99 latency, errors (non-200 or transport errors; zero expected), the
mean batch size the server formed, and the ratio server req/s ÷ baseline prompts/s measured in
this same run (absolute numbers move with machine load; the ratio much less).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx

SUBJECTS = ["a red fox", "two kids", "an old sailor", "a robot", "a cat", "a chef", "a dancer", "a horse"]
ACTIONS = ["walking through", "painting", "singing in", "exploring", "cooking in", "flying over"]
PLACES = ["a snowy forest", "a busy market", "the moon", "a quiet library", "a neon city", "the beach"]


def prompts():
    for i, (s, a, p) in enumerate(itertools.cycle(itertools.product(SUBJECTS, ACTIONS, PLACES))):
        yield f"{s} {a} {p}, shot {i}"


def baseline(seconds: float, batch: int, policy: str | None) -> float:
    from modpipe.pipeline import Pipeline

    with Pipeline.from_policy(policy) as pipe:
        gen = prompts()
        pipe.gate_many([{"text": next(gen)} for _ in range(batch)])  # warm up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            pipe.gate_many([{"text": next(gen)} for _ in range(batch)])
            n += batch
        return n / (time.perf_counter() - t0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 600) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=5) as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                r = await c.get("/readyz")
                if r.status_code == 200:
                    return r.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit("server not ready in time")


async def load(base: str, endpoint: str, concurrency: int, seconds: float, warmup: float) -> dict:
    gen = prompts()
    lat: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:
        async def worker(until: float, record: bool) -> None:
            while time.perf_counter() < until:
                text = next(gen)
                body = {"prompt": text} if endpoint == "gate" else {"input": text}
                t = time.perf_counter()
                try:
                    r = await c.post(f"/v1/{endpoint}", json=body)
                    ok = r.status_code == 200
                    key = None if ok else f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                if record:
                    if key is None:
                        lat.append(time.perf_counter() - t)
                    else:
                        errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker(time.perf_counter() + warmup, False) for _ in range(concurrency)))
        before = (await c.get("/readyz")).json()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(t0 + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        after = (await c.get("/readyz")).json()
    lat.sort()
    q = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")  # noqa: E731
    batches = after["batches"] - before["batches"]
    return {"ok": len(lat), "rps": len(lat) / elapsed, "p50": q(0.50), "p90": q(0.90), "p99": q(0.99),
            "errors": errors, "mean_batch": (after["gated"] - before["gated"]) / batches if batches else 0.0}


WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local subjects = {SUBJECTS}
local actions = {ACTIONS}
local places = {PLACES}
local i = 0
request = function()
  i = i + 1
  local text = subjects[i % #subjects + 1] .. " " .. actions[i % #actions + 1] .. " " ..
               places[i % #places + 1] .. ", shot " .. i
  return wrk.format(nil, "/v1/ENDPOINT", nil, string.format(BODY, text))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK {\"requests\": %d, \"duration_us\": %d, \"p50\": %d, \"p90\": %d, \"p99\": %d, " ..
    "\"connect\": %d, \"read\": %d, \"write\": %d, \"status\": %d, \"timeout\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def lua_list(items: list[str]) -> str:
    return "{" + ", ".join(json.dumps(x) for x in items) + "}"


def wrk_load(base: str, endpoint: str, concurrency: int, seconds: float, warmup: float) -> dict:
    body = '{"prompt": "%s"}' if endpoint == "gate" else '{"input": "%s"}'
    script = (WRK_SCRIPT.replace("{SUBJECTS}", lua_list(SUBJECTS)).replace("{ACTIONS}", lua_list(ACTIONS))
              .replace("{PLACES}", lua_list(PLACES)).replace("ENDPOINT", endpoint)
              .replace("BODY", json.dumps(body)))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        def run(secs: float) -> dict:
            out = subprocess.run(["wrk", "-t2", f"-c{concurrency}", f"-d{max(1, round(secs))}s", "-s", f.name,
                                  base], capture_output=True, text=True, check=True).stdout
            return json.loads(next(line[4:] for line in out.splitlines() if line.startswith("WRK ")))

        run(warmup)
        before = httpx.get(f"{base}/readyz").json()
        r = run(seconds)
        after = httpx.get(f"{base}/readyz").json()
    finally:
        os.unlink(f.name)
    errors = {k: r[k] for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    batches = after["batches"] - before["batches"]
    return {"ok": r["requests"] - r["status"], "rps": (r["requests"] - r["status"]) / (r["duration_us"] / 1e6),
            "p50": r["p50"] / 1000, "p90": r["p90"] / 1000, "p99": r["p99"] / 1000, "errors": errors,
            "mean_batch": (after["gated"] - before["gated"]) / batches if batches else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of measured load")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--endpoint", choices=["gate", "moderations"], default="gate")
    ap.add_argument("--batch-max", type=int, default=32)
    ap.add_argument("--batch-window-ms", type=float, default=3.0)
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="0 skips the bare-pipeline baseline")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto",
                    help="load generator (auto: wrk when installed, else httpx)")
    args = ap.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "httpx")
    if client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk (or --client httpx)")

    base_rate = baseline(args.baseline_seconds, args.batch_max, args.policy) if args.baseline_seconds > 0 else None
    port = free_port()
    cmd = [sys.executable, "-m", "modpipe.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--batch-max", str(args.batch_max), "--batch-window-ms", str(args.batch_window_ms),
           "--log-level", "warning", *(["--policy", args.policy] if args.policy else [])]
    proc = subprocess.Popen(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(base, proc))
        if client == "wrk":
            res = wrk_load(base, args.endpoint, args.concurrency, args.duration, args.warmup)
        else:
            res = asyncio.run(load(base, args.endpoint, args.concurrency, args.duration, args.warmup))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(f"\nmodpipe serve load: POST /v1/{args.endpoint}, {args.concurrency} concurrent, "
          f"{args.duration:.0f} s, batch ≤ {args.batch_max} / {args.batch_window_ms} ms, {os.cpu_count()} CPUs, "
          f"client {client}")
    print(f"{'metric':28s} value")
    print(f"{'requests ok':28s} {res['ok']}")
    print(f"{'requests/s':28s} {res['rps']:.1f}")
    print(f"{'latency p50 / p90 / p99 ms':28s} {res['p50']:.1f} / {res['p90']:.1f} / {res['p99']:.1f}")
    print(f"{'errors':28s} {sum(res['errors'].values())} {res['errors'] or ''}")
    print(f"{'mean server batch':28s} {res['mean_batch']:.1f}")
    if base_rate:
        print(f"{'bare gate_many prompts/s':28s} {base_rate:.1f}")
        print(f"{'server / bare ratio':28s} {res['rps'] / base_rate:.2f}")
    sys.exit(1 if res["errors"] else 0)


if __name__ == "__main__":
    main()
