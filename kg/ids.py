"""Identifiers that never collide across threads, processes or hosts."""
from __future__ import annotations

import base64
import itertools
import os
import secrets
import time
from collections.abc import Callable

__all__ = ["new_id", "new_run_id", "process_prefix", "content_id", "after_fork_in_child", "login_name", "person_id"]


def login_name() -> str:
    """This process's user name ("unknown" where there is none, e.g. a container uid without a
    passwd entry)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def person_id(name: str) -> str:
    """The Person agent's id for ``name`` (capture's ``user@host``, or an annotation's author)."""
    return f"agent:person:{name}"


def after_fork_in_child(fn: Callable[[], None]) -> None:
    """Run ``fn`` in the child after every ``fork`` (where the platform forks at all)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=fn)

# Each process draws an 80-bit random nonce; ids are nonce + a per-process counter.
# Time-based ids (the seed library's choice) collide when two processes start in
# the same tick; a random nonce per process does not (collision odds ~2^-40 for a
# million processes).  The nonce is redrawn in a forked child, since fork copies it.
_prefix = ""
_counter = itertools.count(1)


def _reseed() -> None:
    global _prefix, _counter
    _prefix = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    _counter = itertools.count(1)


_reseed()
after_fork_in_child(_reseed)


def process_prefix() -> str:
    """The random nonce that every id minted by this process starts with."""
    return _prefix


def new_id(tag: str = "a") -> str:
    """A short unique id such as ``t-3xk...q.1f``; ``tag`` says what kind of thing it names."""
    return f"{tag}-{_prefix}.{next(_counter):x}"


def new_run_id() -> str:
    """A UUIDv7-style id for runs: time-ordered (sorts by start) and random in its low bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant bits
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def content_id(digest: str) -> str:
    """The id of an entity named by the hash of its content (same content, same id)."""
    return f"sha256:{digest}"
