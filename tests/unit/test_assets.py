"""Weights are named by their sha256: the whole file, or its first bytes for large checkpoints."""

import hashlib

from modpipe.assets import file_sha256


def test_whole_file_digest_matches_hashlib(tmp_path):
    blob = bytes(range(256)) * 5000  # ~1.2 MiB: read in more than one piece
    path = tmp_path / "weights.bin"
    path.write_bytes(blob)
    assert file_sha256(path) == hashlib.sha256(blob).hexdigest()


def test_prefix_digest_reads_only_the_first_bytes(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same head" + b"tail one")
    b.write_bytes(b"same head" + b"tail two")
    assert file_sha256(a, limit=9) == file_sha256(b, limit=9) == hashlib.sha256(b"same head").hexdigest()
    assert file_sha256(a) != file_sha256(b)
    assert file_sha256(a, limit=1 << 24) == file_sha256(a)  # a limit past the end reads it all
