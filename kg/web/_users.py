"""The hub's users: per-user tokens (kept as sha256 digests) and grants, in one JSON file beside the store.

Tokens are 32 random bytes, so a plain sha256 of one is as good as a slow password hash
and lets a request be checked in microseconds. The file is rewritten atomically; it is
read on every request, so `kg serve --add-user` takes effect on a running server."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from kg.config import kg_home
from kg.exceptions import ConfigError, InputError
from kg.stores import is_server_uri

__all__ = ["User", "users_file", "add_user", "grant", "authenticate", "check_name", "ADMIN", "ANONYMOUS"]

ADMIN = "admin"          # the holder of `kg serve --token-file`'s token: every experiment
ANONYMOUS = "anonymous"  # a request without a token on an `--open` server
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class User:
    """Who a request comes from and which experiments they were granted (their own ones aside)."""

    name: str
    grants: frozenset[str] = frozenset()
    admin: bool = False


def check_name(name: str, what: str = "name") -> str:
    """``name`` if it is a plain user or experiment name (letters, digits, ``._-``); InputError otherwise."""
    if not _NAME_RE.match(name or ""):
        raise InputError(f"{what} {name!r:.80} must be 1-100 letters, digits, '.', '_' or '-'")
    return name


def users_file(store_uri: str) -> Path:
    """``hub-users.json`` in the embedded store's directory ($KG_HOME for a server store)."""
    if is_server_uri(store_uri):
        return kg_home() / "hub-users.json"
    path = store_uri.removeprefix("sqlite:///")
    return Path(path).absolute().parent / "hub-users.json"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the hub users file {path}: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise ConfigError(f"{path}: not a hub users file (no 'users' object)")
    return users


def _save(path: Path, users: dict[str, dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # digests only, still nobody else's business
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"users": users}, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def add_user(path: Path, name: str) -> str:
    """Create ``name`` (or give them a new token, the old one stops working); return the token."""
    check_name(name, "user name")
    if name in (ADMIN, ANONYMOUS):
        raise InputError(f"{name!r} is reserved")
    users = _load(path)
    token = secrets.token_urlsafe(32)
    entry = users.setdefault(name, {})
    entry["token_sha256"] = _digest(token)
    entry.setdefault("grants", [])
    _save(path, users)
    return token


def grant(path: Path, name: str, experiment: str) -> None:
    """Let ``name`` read and write ``experiment`` (as its owner may)."""
    check_name(experiment, "experiment name")
    users = _load(path)
    if name not in users:
        raise InputError(f"no hub user {name!r} (create it with `kg serve --add-user {name}`)")
    grants = users[name].setdefault("grants", [])
    if isinstance(grants, list) and experiment not in grants:
        grants.append(experiment)
    _save(path, users)


def authenticate(path: Path, token: str, admin_token: str | None) -> User | None:
    """The user holding ``token``, or None."""
    if not token:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return User(ADMIN, admin=True)
    digest = _digest(token)
    for name, entry in _load(path).items():
        if hmac.compare_digest(str(entry.get("token_sha256", "")), digest):
            grants = entry.get("grants") or []
            return User(name, frozenset(str(g) for g in grants) if isinstance(grants, list) else frozenset())
    return None
