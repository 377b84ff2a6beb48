"""The content store: file contents kept once each under ``$KG_HOME/content/``, named by their sha256.

Layout: ``content/<first 2 hex>/<remaining 62 hex>``. An object is written once: it is
streamed into ``content/tmp/`` while being hashed, then renamed into place (atomic on
POSIX), so a reader never sees half an object and two writers of the same content
simply produce the same file. Objects are made read-only to say they never change.

Files larger than the size limit (``KG_CONTENT_LIMIT`` bytes, or ``content_limit`` in
``$KG_HOME/config.toml``; default 256 MiB; 0 means no limit) are hashed but not kept.

This module opens files through ``_io`` and binds its ``os`` functions at import, so
the file-access hooks of ``capture.files`` never see (or record) the store's own I/O."""
from __future__ import annotations

import _io
import hashlib
import itertools
import os
import re
import threading
from pathlib import Path
from typing import IO, NamedTuple

from kg.config import kg_home, load_config
from kg.exceptions import ConfigError, InputError, NotFound, StoreError

__all__ = [
    "Stored", "content_root", "object_path", "size_limit", "hash_file", "hash_bytes",
    "put_bytes", "put_file", "store_file", "get", "has", "copy_out", "copy_between", "shared_root", "DEFAULT_LIMIT",
]

DEFAULT_LIMIT = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
# Read files up to this size in one go (one read, one hash); bigger ones are streamed.
_SMALL = 4 * 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

# Bound now: capture.files patches os.replace & co. later, and the store must not pass through the hooks.
_replace = os.replace
_unlink = os.unlink
_makedirs = os.makedirs
_chmod = os.chmod
_fopen = _io.open
_tmp_counter = itertools.count()


class Stored(NamedTuple):
    """What ``store_file`` did: the content's sha256, its size, and whether the bytes were kept."""

    sha256: str
    size: int
    stored: bool


def content_root(home: Path | None = None) -> Path:
    """``$KG_HOME/content``."""
    return (home or kg_home()) / "content"


def object_path(sha: str, root: Path | None = None) -> Path:
    """Where the object named ``sha`` lives (whether or not it exists)."""
    if not isinstance(sha, str) or not _SHA_RE.match(sha):
        raise InputError(f"not a sha256 hex digest: {sha!r:.80}")
    return (root or content_root()) / sha[:2] / sha[2:]


def size_limit() -> int:
    """Largest file (bytes) whose content is kept; 0 = no limit."""
    raw = os.environ.get("KG_CONTENT_LIMIT")
    if raw is None:
        raw = load_config().get("content_limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"KG_CONTENT_LIMIT / content_limit must be a byte count, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"KG_CONTENT_LIMIT / content_limit must be >= 0, not {value}")
    return value


def hash_bytes(data: bytes) -> str:
    """sha256 hex of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _hash_copy(src: str | os.PathLike[str], out: IO[bytes] | None = None) -> tuple[str, int]:
    """(sha256 hex, size) of ``src``, read in chunks (any size, constant memory), each chunk also
    written to the open file ``out`` when given. Raises OSError."""
    h = hashlib.sha256()
    size = 0
    with _fopen(src, "rb", buffering=0) as fh:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            h.update(view[:n])
            if out is not None:
                out.write(view[:n])
            size += n
    return h.hexdigest(), size


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read in chunks (any size, constant memory). Raises OSError."""
    return _hash_copy(path)


# Directories known to exist (creating them on every write was a third of the cost of small files).
_dirs: set[str] = set()


def _ensure_dir(d: str) -> None:
    if d not in _dirs:
        _makedirs(d, exist_ok=True)
        _dirs.add(d)


def _tmp_path(root: Path) -> str:
    tmp = os.path.join(root, "tmp")
    _ensure_dir(tmp)
    return os.path.join(tmp, f"{os.getpid()}-{threading.get_ident()}-{next(_tmp_counter)}.part")


def _final(sha: str, root: Path) -> str:
    return os.path.join(root, sha[:2], sha[2:])


def _commit(tmp: str, sha: str, root: Path) -> None:
    final = _final(sha, root)
    if os.path.exists(final):  # write-once: the same content is already there
        _unlink(tmp)
        return
    _ensure_dir(os.path.dirname(final))
    _chmod(tmp, 0o444)
    try:
        _replace(tmp, final)
    except FileNotFoundError:  # the directory was removed behind our back: once more
        _dirs.discard(os.path.dirname(final))
        _ensure_dir(os.path.dirname(final))
        _replace(tmp, final)


def put_bytes(data: bytes, *, root: Path | None = None) -> str:
    """Keep ``data``; return its sha256 (the name to ``get`` it back with)."""
    root = root or content_root()
    sha = hash_bytes(data)
    if os.path.exists(_final(sha, root)):
        return sha
    tmp = _tmp_path(root)
    try:
        with _fopen(tmp, "wb") as out:
            out.write(data)
        _commit(tmp, sha, root)
    except OSError as exc:
        _discard(tmp)
        raise StoreError(f"content store {root}: {exc}") from None
    return sha


def store_file(path: str | os.PathLike[str], *, root: Path | None = None, limit: int | None = None) -> Stored:
    """Hash a file and keep its content unless it is bigger than ``limit`` (default ``size_limit()``).

    Raises OSError when the file cannot be read (callers decide what a missing file means),
    StoreError when the content store cannot be written."""
    root = root or content_root()
    limit = size_limit() if limit is None else limit
    size = os.stat(path).st_size
    if limit and size > limit:
        sha, size = hash_file(path)
        return Stored(sha, size, False)
    if size <= _SMALL:
        with _fopen(path, "rb") as fh:
            data = fh.read()
        if limit and len(data) > limit:  # grew since stat
            return Stored(hash_bytes(data), len(data), False)
        return Stored(put_bytes(data, root=root), len(data), True)
    # Big file: one pass that hashes while copying into a temporary object.
    tmp = _tmp_path(root)
    try:
        with _fopen(tmp, "wb") as out:
            sha, size = _hash_copy(path, out)
        if limit and size > limit:
            _discard(tmp)
            return Stored(sha, size, False)
        _commit(tmp, sha, root)
    except OSError as exc:
        _discard(tmp)
        if isinstance(exc, FileNotFoundError) and not os.path.exists(path):
            raise
        raise StoreError(f"content store {root}: {exc}") from None
    return Stored(sha, size, True)


def put_file(path: str | os.PathLike[str], *, root: Path | None = None, limit: int | None = None) -> str:
    """Keep a file's content (unless above the size limit); return its sha256.

    Raises InputError if the file cannot be read."""
    try:
        return store_file(path, root=root, limit=limit).sha256
    except OSError as exc:
        raise InputError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None


def has(sha: str, *, root: Path | None = None) -> bool:
    """True if the content named ``sha`` is kept."""
    return object_path(sha, root).exists()


def get(sha: str, *, root: Path | None = None) -> bytes:
    """The bytes named ``sha``. Raises NotFound if they were never kept (or were above the size limit)."""
    path = object_path(sha, root)
    try:
        with _fopen(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise NotFound(f"content {sha[:12]} is not in the content store {path.parent.parent}") from None
    except OSError as exc:
        raise StoreError(f"cannot read content {sha[:12]}: {exc}") from None


def copy_out(sha: str, target: str | os.PathLike[str], *, root: Path | None = None) -> None:
    """Write the content named ``sha`` to ``target`` (parents created), replacing it atomically.

    The copy is streamed, verified against ``sha``, and renamed over ``target``, so a
    failure leaves ``target`` as it was."""
    src = object_path(sha, root)
    if not src.exists():
        raise NotFound(f"content {sha[:12]} is not in the content store (was the file above the size limit?)")
    target = Path(target)
    tmp = target.parent / f".{target.name}.kg-restore-{os.getpid()}-{next(_tmp_counter)}"
    try:
        _makedirs(target.parent, exist_ok=True)
        with _fopen(tmp, "wb") as out:
            got, _ = _hash_copy(src, out)
        if got != sha:
            raise StoreError(f"content {sha[:12]} is corrupt in the content store (hash mismatch)")
        if target.exists():  # keep the file's permission bits, not the store's read-only ones
            _chmod(tmp, target.stat().st_mode & 0o7777)
        _replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: str | Path) -> None:
    try:
        _unlink(path)
    except OSError:
        pass


def shared_root(given: str | os.PathLike[str] | None = None) -> Path | None:
    """A content store shared by a team (a directory on a shared disk) that `kg push`/`kg pull`
    to Neo4j copy contents through: ``given``, else $KG_SHARED_CONTENT, else ``shared_content``
    in config.toml; None when none is set."""
    raw = given or os.environ.get("KG_SHARED_CONTENT") or load_config().get("shared_content")
    return Path(raw).expanduser() if raw else None


def copy_between(shas: list[str], src: Path | None, dst: Path | None) -> tuple[int, int]:
    """Copy the named contents from one content store to another (None: this KG_HOME's), each
    only where ``dst`` lacks it and ``src`` has it, verified by its hash: (copied, bytes)."""
    copied = size = 0
    for sha in shas:
        if has(sha, root=dst) or not has(sha, root=src):
            continue
        data = get(sha, root=src)
        if hash_bytes(data) != sha:
            raise StoreError(f"content {sha[:12]} in {src or content_root()} is corrupt (its sha256 differs)")
        put_bytes(data, root=dst)
        copied += 1
        size += len(data)
    return copied, size
