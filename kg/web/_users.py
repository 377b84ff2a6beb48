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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kg.config import kg_home
from kg.exceptions import ConfigError, InputError
from kg.stores import is_server_uri

__all__ = ["User", "users_file", "add_user", "add_to_group", "grant", "revoke", "remove_user", "listing", "has_users",
           "authenticate", "check_name", "ADMIN", "ANONYMOUS"]

ADMIN = "admin"          # the holder of `kg serve --token-file`'s token: every experiment
ANONYMOUS = "anonymous"  # a request without a token on an `--open` server
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class User:
    """Who a request comes from and what they were granted (their own experiments aside):
    experiment name -> "read" or "write", their groups' grants included."""

    name: str
    grants: Mapping[str, str] = field(default_factory=dict)
    admin: bool = False

    def may(self, experiment: str, owner: object, write: bool = False) -> bool:
        """May this user read (or write) the experiment named ``experiment``, owned by ``owner``?"""
        if self.admin or owner == self.name:
            return True
        mode = self.grants.get(experiment)
        return mode == "write" or (mode == "read" and not write)


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


def _load_all(path: Path) -> dict[str, dict[str, dict[str, object]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"users": {}, "groups": {}}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the hub users file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise ConfigError(f"{path}: not a hub users file (no 'users' object)")
    groups = data.get("groups")
    return {"users": data["users"], "groups": groups if isinstance(groups, dict) else {}}


def _save(path: Path, data: dict[str, dict[str, dict[str, object]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # digests only, still nobody else's business
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def has_users(path: Path) -> bool:
    """Whether the hub has any user: then its pages, too, are for logged-in readers only."""
    return bool(_load_all(path)["users"])


def add_user(path: Path, name: str) -> str:
    """Create ``name`` (or give them a new token, the old one stops working); return the token."""
    check_name(name, "user name")
    if name in (ADMIN, ANONYMOUS):
        raise InputError(f"{name!r} is reserved")
    data = _load_all(path)
    token = secrets.token_urlsafe(32)
    entry = data["users"].setdefault(name, {})
    entry["token_sha256"] = _digest(token)
    entry.setdefault("grants", {})
    _save(path, data)
    return token


def add_to_group(path: Path, group: str, user: str) -> None:
    """Put ``user`` in ``group`` (created on first use); the group's grants become theirs."""
    check_name(group, "group name")
    data = _load_all(path)
    if user not in data["users"]:
        raise InputError(f"no hub user {user!r} (create it with `kg serve --add-user {user}`)")
    members = data["groups"].setdefault(group, {"members": [], "grants": {}}).setdefault("members", [])
    if isinstance(members, list) and user not in members:
        members.append(user)
    _save(path, data)


def grant(path: Path, who: str, experiment: str, mode: str = "write") -> None:
    """Let ``who`` (a user, or ``@group``) read, or read and write, ``experiment``."""
    check_name(experiment, "experiment name")
    if mode not in ("read", "write"):
        raise InputError(f"a grant is 'read' or 'write', not {mode!r}")
    data = _load_all(path)
    table, name = _table(who)
    if name not in data[table]:
        what = "group" if table == "groups" else "user"
        how = f"kg serve --group {name} USER" if table == "groups" else f"kg serve --add-user {name}"
        raise InputError(f"no hub {what} {name!r} (create it with `{how}`)")
    _grants(data[table][name])[experiment] = mode
    _save(path, data)


def revoke(path: Path, who: str, experiment: str) -> bool:
    """Take back ``who``'s (a user's, or ``@group``'s) grant on ``experiment``; whether there was one."""
    data = _load_all(path)
    table, name = _table(who)
    entry = data[table].get(name)
    if entry is None or _grants(entry).pop(experiment, None) is None:
        return False
    _save(path, data)
    return True


def remove_user(path: Path, name: str) -> bool:
    """Delete ``name`` (their token stops working at once) and take them out of every group."""
    data = _load_all(path)
    if data["users"].pop(name, None) is None:
        return False
    for group in data["groups"].values():
        members = group.get("members")
        if isinstance(members, list) and name in members:
            members.remove(name)
    _save(path, data)
    return True


def listing(path: Path) -> list[dict[str, str]]:
    """Users and groups with their grants (and members), for `kg serve --users`; never a token."""
    data = _load_all(path)
    rows = []
    for table, kind in (("users", "user"), ("groups", "group")):
        for name, entry in sorted(data[table].items()):
            grants = ", ".join(f"{e} ({m})" for e, m in sorted(_grants(entry).items()))
            members = entry.get("members") if kind == "group" else None
            rows.append({"kind": kind, "name": name if kind == "user" else f"@{name}", "grants": grants,
                         "members": ", ".join(map(str, members)) if isinstance(members, list) else ""})
    return rows


def _table(who: str) -> tuple[str, str]:
    """Where a grantee lives: ``@lab`` is the group lab, anything else a user."""
    return ("groups", who[1:]) if who.startswith("@") else ("users", who)


def _grants(entry: dict[str, object]) -> dict[str, str]:
    # A list is the first file format: every grant in it was read and write.
    raw = entry.get("grants")
    grants = {str(g): "write" for g in raw} if isinstance(raw, list) else dict(raw) if isinstance(raw, dict) else {}
    entry["grants"] = grants
    return grants  # type: ignore[return-value]


def authenticate(path: Path, token: str, admin_token: str | None) -> User | None:
    """The user holding ``token`` (with their groups' grants), or None."""
    if not token:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return User(ADMIN, admin=True)
    digest = _digest(token)
    data = _load_all(path)
    for name, entry in data["users"].items():
        if hmac.compare_digest(str(entry.get("token_sha256", "")), digest):
            grants: dict[str, str] = {}
            for group in data["groups"].values():
                members = group.get("members")
                if isinstance(members, list) and name in members:
                    _merge(grants, _grants(group))
            _merge(grants, _grants(entry))
            return User(name, grants)
    return None


def _merge(into: dict[str, str], grants: dict[str, str]) -> None:
    for exp, mode in grants.items():
        if into.get(exp) != "write":
            into[exp] = mode
