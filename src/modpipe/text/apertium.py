"""Apertium translation modes kept running, so a prompt is translated in a few milliseconds.

Started once per process and mode, on first use: the programs of the mode (Debian's
`/usr/share/apertium/modes/*.mode`, with word-bound blanks as `apertium-wblank-mode` writes
them) in null-flush mode (`-z`), joined into one shell pipeline (13–15 processes, ~100–200 MB).
A text goes in as one block in Apertium's stream format ending in a NUL byte; every program
translates what it has and flushes at the NUL, so the English comes back, NUL-terminated,
without restarting anything. Starting `apertium` per call cost ~0.1–0.2 s (it starts the
programs and loads their data); a running mode answers in ~1–4 ms (its first call, 40–80 ms).

Each text is its own block, so a batch gives what each text alone gives: lines of one block
let Apertium's transfer move words from one prompt into the next. The text is put into the
stream format here as `apertium-destxt` would (escapes, a sentence end for the tagger, a closing
blank) and taken back out as `apertium-retxt` would; `apertium-destxt` itself does not flush on
NUL. A mode that fails or gives no answer for `TIMEOUT_S` is stopped and started again on the
next call (the timer restarts with every answer, so a long batch is not cut off); the caller
scores the prompt as written.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

TIMEOUT_S = 10.0
DATADIR = Path(os.environ.get("APERTIUM_DATADIR", "/usr/share/apertium"))

_RESERVED = re.compile(r"([\\\[\]^$/@<>{}])")  # what apertium-destxt escapes
_UNSTREAM = re.compile(r"\\(.)|\[[^\]]*\]")  # an escaped character, or a superblank ([] / [\n])
_SENTENCE_END = ".!?;:"


@lru_cache(maxsize=1)
def installed_modes() -> frozenset[str]:
    """The Apertium modes this machine can run as a chain; empty when Apertium is missing."""
    if shutil.which("apertium-wblank-mode") is None or not (DATADIR / "modes").is_dir():
        return frozenset()
    return frozenset(p.stem for p in (DATADIR / "modes").glob("*.mode"))


def to_stream(text: str) -> str:
    """One text in Apertium's stream format: one line, reserved characters escaped, a sentence
    end added where it has none (the tagger reads sentences), as `apertium-destxt` does."""
    text = " ".join(text.replace("\0", " ").replace("~", " ").split())
    text = _RESERVED.sub(r"\\\1", text)
    # the closing blank: without it the analyser waits to see whether "." ends the text
    return (text if text[-1:] in _SENTENCE_END else f"{text}.[]") + "[\n]"


def from_stream(block: str) -> str:
    """The plain text of one translated block: the added sentence end, blanks and escapes out."""
    block = block.removesuffix("[\n]").rstrip()
    if block.endswith(".[]"):
        block = block[:-3]
    return " ".join(_UNSTREAM.sub(lambda m: m.group(1) or " ", block).split())


def _command(mode: str) -> str:
    done = subprocess.run(["apertium-wblank-mode", "-z", str(DATADIR / "modes" / f"{mode}.mode")],
                          capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    # $1: the generator's option (-g: unknown words marked with *), $2: the tagger's (none)
    return done.stdout.strip().replace("$1", "-g").replace("$2", "")


class Chain:
    """One Apertium mode (e.g. "spa-eng"), running. `translate` is thread-safe (one call at a
    time per chain); a forked child starts its own processes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._pid = 0

    def translate(self, texts: Sequence[str]) -> list[str]:
        """The English of each text, unknown words marked with `*` (`#`, `@`: the generator's
        and the transfer's misses). Raises `RuntimeError` when the chain fails or stalls."""
        blocks = [to_stream(t) for t in texts]
        with self._lock:
            proc = self._running()
            writer = threading.Thread(target=self._write, args=(proc, blocks), daemon=True)
            writer.start()  # written from a thread: a big batch would fill both pipes and hang
            try:
                out = self._read(proc, len(blocks))
            except BaseException:
                self.stop()
                raise
            finally:
                writer.join(TIMEOUT_S)
        return [from_stream(b) if t.strip() else "" for b, t in zip(out, texts, strict=True)]

    def stop(self) -> None:
        """Stop the chain's processes (the shell's whole process group); the next call starts it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._pid == os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()

    def _running(self) -> subprocess.Popen:
        if self._proc is not None and (self._pid != os.getpid() or self._proc.poll() is not None):
            self.stop()
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["bash", "-c", _command(self.mode)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, start_new_session=True)
            self._pid = os.getpid()
        return self._proc

    @staticmethod
    def _write(proc: subprocess.Popen, blocks: list[str]) -> None:
        try:
            for b in blocks:
                proc.stdin.write(b.encode("utf-8") + b"\0")
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the chain died: the reader sees it

    @staticmethod
    def _read(proc: subprocess.Popen, n: int) -> list[str]:
        fd, buf, out = proc.stdout.fileno(), b"", []
        deadline = time.monotonic() + TIMEOUT_S
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError(f"apertium did not answer within {TIMEOUT_S:.0f} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"apertium exited ({proc.poll()})")
            *done, buf = (buf + chunk).split(b"\0")
            out += [d.decode("utf-8", errors="replace") for d in done]
            deadline = time.monotonic() + TIMEOUT_S  # a long batch may take longer: it is answering
        return out
