"""The content store: each content kept once, named by its sha256, written atomically, streamed."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kg import content
from kg.exceptions import ConfigError, InputError, NotFound


def _objects(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"]


def test_bytes_round_trip_and_each_content_kept_once(tmp_path: Path) -> None:
    sha = content.put_bytes(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert content.put_bytes(b"hello") == sha
    (tmp_path / "a.txt").write_bytes(b"hello")
    assert content.put_file(tmp_path / "a.txt") == sha
    assert content.get(sha) == b"hello"
    assert len(_objects(content.content_root())) == 1
    assert content.object_path(sha).parent.name == sha[:2]
    assert not os.access(content.object_path(sha), os.W_OK) or os.geteuid() == 0  # read-only object


def test_big_file_is_streamed_and_verified(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(1024 * 1024) * 6  # above the one-read threshold
    big.write_bytes(data)
    stored = content.store_file(big)
    assert stored == (hashlib.sha256(data).hexdigest(), len(data), True)
    assert content.hash_file(big) == (stored.sha256, len(data))
    out = tmp_path / "copy" / "big.bin"
    content.copy_out(stored.sha256, out)
    assert out.read_bytes() == data
    assert list((content.content_root() / "tmp").iterdir()) == []  # no leftovers


def test_size_limit_hashes_but_does_not_keep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 100)
    monkeypatch.setenv("KG_CONTENT_LIMIT", "10")
    assert content.size_limit() == 10
    s = content.store_file(f)
    assert s.stored is False and s.size == 100 and s.sha256 == hashlib.sha256(b"x" * 100).hexdigest()
    assert not content.has(s.sha256)
    with pytest.raises(NotFound):
        content.get(s.sha256)
    monkeypatch.setenv("KG_CONTENT_LIMIT", "lots")
    with pytest.raises(ConfigError):
        content.size_limit()


def test_copy_out_keeps_target_mode_and_rejects_bad_names(tmp_path: Path) -> None:
    sha = content.put_bytes(b"#!/bin/sh\necho hi\n")
    target = tmp_path / "run.sh"
    target.write_text("old")
    target.chmod(0o755)
    content.copy_out(sha, target)
    assert target.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert target.stat().st_mode & 0o777 == 0o755
    with pytest.raises(InputError):
        content.get("../../etc/passwd")
    with pytest.raises(InputError):
        content.put_file(tmp_path / "missing")
