"""Secrets stay out of the store: what is redacted, and where.

Capture never decides what is secret value by value on the program's thread (that would cost
every record); the sink redacts each batch on its way to the store, so every store, the spool
and therefore every export see the same redacted records. Redacted are:

- the values of environment variables whose names look like credentials
  (``settings.is_secret``: ``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``, ``*KEY*``, ``*DSN*``,
  ``*WEBHOOK*``... and ``KG_REDACT_NAMES`` / config ``redact_names`` globs), wherever they
  flow: arguments, returns, loop values, task inputs and outputs, other variables' values;
- the password of any URL (``scheme://user:PASSWORD@host``), the credentials in a URL's query
  (``?token=…``) and the secret part of webhook URLs, wherever they appear;
- in the environment, the command line and a run's own attributes also the key=value
  credentials of connection strings (``;Password=…``) and well-known token shapes (GitHub,
  Slack, AWS, Google, OpenAI-style keys, JWTs, private-key blocks) — each found there becomes
  a known secret, replaced wherever it flows (testing every captured value against every
  shape cost ~1 µs per 100 characters: a run passing long values around paid it everywhere);
- values of command-line options whose names look like credentials (``--password X``,
  ``--api-key=X``);
- values passed to :func:`add_secret` (``capture.secret(value)``) and matches of
  ``KG_REDACT_PATTERNS`` / config ``redact_patterns`` regexes.

``os.environ`` itself is never recorded by value (see ``capture.values``). A secret shorter
than ``MIN_LITERAL`` characters is not searched for as a literal (``1`` or ``true`` would
redact half the store); the patterns above still apply to it.
"""
from __future__ import annotations

import fnmatch
import marshal
import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

from kg.config import load_config, settings
from kg.exceptions import ConfigError

__all__ = ["REDACTED", "MIN_LITERAL", "Redactor", "redactor", "add_secret", "redact_text", "argv_secrets"]

REDACTED = "[redacted]"
MIN_LITERAL = 8

_CRED_KEYS = (r"password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|id_token"
              r"|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|auth|authorization|sig|signature|sas|credentials?")
# scheme://user:PASSWORD@ (the user is kept: it says which account without granting it)
_URL_PASSWORD = r"(?P<up>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s'\"]*:)(?P<uv>[^@/?#\s'\"]+)(?=@)"
# ?token=… &password=… ;Password=… and libpq's "password=… host=…"
_KEY_VALUE = rf"(?P<kp>(?:^|(?<=[?&;\s]))(?i:{_CRED_KEYS})\s*=\s*)(?P<kv>[^&;\s'\",)]+)"
# hooks.slack.com/services/…, discord.com/api/webhooks/…, any /webhooks/ path: the path is the secret
_WEBHOOK = r"(?P<wp>https?://(?:hooks\.[^/\s'\"]+|[^/\s'\"]+/(?:api/)?webhooks?))(?P<wv>/[^\s'\"?#]+)"
_TOKEN_SHAPES = (
    r"\bgh[pousr]_[A-Za-z0-9]{30,}", r"\bgithub_pat_[A-Za-z0-9_]{30,}", r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\bA(?:KIA|SIA)[0-9A-Z]{16}\b", r"\bAIza[0-9A-Za-z_\-]{35}", r"\bsk-[A-Za-z0-9_\-]{20,}",
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
)
# The test on a whole marshalled segment before anything is unpacked (besides the known secret
# values): a URL with credentials or a webhook URL. It starts with a literal, which ``re`` finds at
# memchr speed (~15 µs for a 50 kB segment; each token shape would cost as much again, so those are
# applied to the other records only: a token arriving from the environment, argv or add_secret is a
# known value, and one written in the script is in its stored source anyway).
_BLOB_HINT = (rb"://(?:[^/?#@\s]{0,256}@|hooks\.|[^/\s]{1,256}/(?:api/)?webhooks?/"
              rb"|[^\s'\"]{0,1024}?[?&;](?i:" + _CRED_KEYS.encode() + rb")=)")

_OPTION = re.compile(rf"^--?(?:[\w-]*[-_])?(?i:{_CRED_KEYS}|key)(?:=(?P<val>.*))?$")
_TRUE = frozenset({"1", "0", "true", "false", "yes", "no", "on", "off", ""})


def argv_secrets(argv: Iterable[str]) -> list[str]:
    """Values of credential-looking options: ``--token X``, ``--api-key=X``, ``-password X``."""
    out: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        m = _OPTION.match(arg)
        if m is None:
            continue
        val = m.group("val")
        if val is None and i + 1 < len(args) and not args[i + 1].startswith("-"):
            val = args[i + 1]
        if val:
            out.append(val)
    return out


class Redactor:
    """Finds and replaces secrets in records; built from the environment, the settings and the config."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._literals: set[str] = set()
        self._env_seen: dict[str, str] = {}
        conf = _config()
        self._names = tuple(n.upper() for n in (*_split(os.environ.get("KG_REDACT_NAMES")),
                                                 *conf.get("redact_names", ())))
        patterns = [*([os.environ["KG_REDACT_PATTERNS"]] if os.environ.get("KG_REDACT_PATTERNS") else []),
                    *conf.get("redact_patterns", ())]
        try:
            self._user = [re.compile(p) for p in patterns]
        except re.error as exc:
            raise ConfigError(f"redact_patterns: {exc.pattern!r} is not a regular expression: {exc}") from None
        self._text: re.Pattern[str] = re.compile("(?!)")
        self._hints: list[re.Pattern[bytes]] = []
        self._str_hints: list[re.Pattern[str]] = []
        self._lit_bytes: list[bytes] = []
        self._lits: list[str] = []
        self._cheap: re.Pattern[str] = re.compile("(?!)")
        self._build()
        self.take_argv(sys.argv[1:])

    # -- what is secret ----------------------------------------------------------------------
    def is_secret_name(self, name: str) -> bool:
        """True for a variable name that looks like a credential or matches a ``redact_names`` glob."""
        return settings.is_secret(name) or any(fnmatch.fnmatchcase(name.upper(), g) for g in self._names)

    def add(self, value: str) -> None:
        """Redact ``value`` wherever it appears from now on (also the parts that look like credentials)."""
        if not isinstance(value, str) or not value:
            return
        new = {value} if len(value) >= MIN_LITERAL else set()
        new |= {v for v in self._parts(value) if len(v) >= MIN_LITERAL}
        with self._lock:
            if new - self._literals:
                self._literals |= new
                self._build()

    def take_argv(self, argv: Iterable[str]) -> None:
        """Redact the values of credential-looking options and the secret parts of any argument."""
        for value in argv_secrets(argv):
            self.add(value)
        for arg in argv:
            for part in self._parts(arg):
                self.add(part)

    def refresh(self) -> None:
        """Take in variables set since the last call (a program may set ``os.environ[...]`` itself)."""
        seen = self._env_seen
        fresh = [(k, v) for k, v in list(os.environ.items()) if seen.get(k) != v]
        if not fresh:
            return
        new: set[str] = set()
        for name, value in fresh:
            seen[name] = value
            if self.is_secret_name(name) and len(value) >= MIN_LITERAL and value.lower() not in _TRUE:
                if not (os.path.isabs(value) and os.path.exists(value)):  # a path to a key file is not the key
                    new.add(value)
            new |= {v for v in self._parts(value) if len(v) >= MIN_LITERAL}
        with self._lock:
            if new - self._literals:
                self._literals |= new
                self._build()

    def _parts(self, value: str) -> set[str]:
        """The secret parts the patterns find inside ``value`` (a URL's password, a token=…)."""
        out = set()
        for m in self._text.finditer(value):
            d = m.groupdict()
            out.add(d.get("uv") or d.get("kv") or d.get("wv") or m.group(0))
        return out

    def _build(self) -> None:
        lits = sorted(self._literals, key=len, reverse=True)
        alts = [_URL_PASSWORD, _KEY_VALUE, _WEBHOOK, *_TOKEN_SHAPES, *(p.pattern for p in self._user)]
        alts += [re.escape(s) for s in lits]
        self._text = re.compile("|".join(f"(?:{a})" for a in alts))
        self._lits = lits
        self._lit_bytes = [s.encode("utf-8", "surrogatepass") for s in lits]
        user = [p.pattern for p in self._user]
        self._hints = [re.compile(_BLOB_HINT)] + [re.compile(p.encode()) for p in user if p.isascii()]
        self._str_hints = [re.compile(_BLOB_HINT.decode())] + [re.compile(p) for p in user]
        # may_hold's one search: the known secrets, the hint, the user's patterns
        self._cheap = re.compile("|".join([*(re.escape(x) for x in lits), _BLOB_HINT.decode(),
                                           *(f"(?:{p})" for p in user)]))

    # -- replacing ---------------------------------------------------------------------------
    def text(self, s: str) -> str:
        """``s`` with every secret in it replaced by ``[redacted]`` (URL users and option names kept)."""
        if not self._text.search(s):
            return s
        return self._text.sub(_replace, s)

    def may_hold(self, s: str) -> bool:
        """A fast test of one captured string, as of a segment (a known secret, a credential URL,
        a user pattern): the full patterns (token shapes, key=value) run only where it passes.
        They cost ~1 µs per 100 characters each; a run storing long values paid that on every one."""
        return self._cheap.search(s) is not None

    def _blob_hits(self, data: bytes) -> tuple[list[str], list[re.Pattern[str]]]:
        """The known secrets and the hint patterns found in a marshalled segment (fast: no unpacking)."""
        lits = [lit.decode("utf-8", "surrogatepass") for lit in self._lit_bytes if lit in data]
        hints = [s for s, h in zip(self._str_hints, self._hints) if h.search(data) is not None]
        return lits, hints

    def value(self, obj: Any, only: Any = None, depth: int = 0) -> Any:
        """``obj`` with secrets replaced in every string it holds (tuples, lists, dicts, sets).
        ``only(s)``: a cheap test that a string may hold one (the full patterns run where it passes)."""
        t = type(obj)
        if t is str:
            return self.text(obj) if only is None or only(obj) else obj
        if depth > 20:
            return obj
        d = depth + 1
        if t is tuple:
            return tuple(self.value(x, only, d) for x in obj)
        if t is list:
            return [self.value(x, only, d) for x in obj]
        if t is dict:
            return {self.value(k, only, d): self.value(v, only, d) for k, v in obj.items()}
        if t is set or t is frozenset:
            return t(self.value(x, only, d) for x in obj)
        if t is bytes:
            text = obj.decode("utf-8", "surrogateescape")
            return self.value(text, only, d).encode("utf-8", "surrogateescape")
        return obj

    def blob(self, data: bytes) -> bytes | None:
        """A segment's marshalled records with secrets replaced, or None when it held none."""
        lits, hints = self._blob_hits(data)
        if not lits and not hints:
            return None

        def only(s: str) -> bool:
            return any(lit in s for lit in lits) or any(h.search(s) for h in hints)

        recs = marshal.loads(data)
        red = self.value(recs, only)
        return None if red == recs else marshal.dumps(red)


def _replace(m: re.Match[str]) -> str:
    d = m.groupdict()
    for pre, val in (("up", "uv"), ("kp", "kv"), ("wp", "wv")):
        if d.get(val):
            return d[pre] + ("/" if pre == "wp" else "") + REDACTED
    return REDACTED


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _config() -> dict[str, Any]:
    try:
        return load_config()
    except Exception:  # a broken config file is reported by the commands that need it, not here
        return {}


_redactor: Redactor | None = None
_make_lock = threading.Lock()


def redactor() -> Redactor:
    """The process's redactor (built on first use, environment taken in then and at each refresh)."""
    global _redactor
    if _redactor is None:
        with _make_lock:
            if _redactor is None:
                r = Redactor()
                r.refresh()
                _redactor = r
    return _redactor


def add_secret(value: str) -> str:
    """Redact ``value`` wherever it appears in what this process records; returns it unchanged."""
    redactor().add(value)
    return value


def redact_text(s: str) -> str:
    """``s`` with the secrets the process knows of, and credential-looking parts, replaced."""
    return redactor().text(s)


def redact_records(nodes: list[Any], edges: list[Any]) -> tuple[list[Any], list[Any]]:
    """Nodes and edges with secrets replaced in their props (ids are kept: they name, never hold, values)."""
    r = redactor()
    r.refresh()
    value, cheap = r.value, r.may_hold
    nodes = [n if not n.props else n._replace(props=value(n.props, cheap)) for n in nodes]
    edges = [e if not e.props else e._replace(props=value(e.props, cheap)) for e in edges]
    return nodes, edges


def redact_sealed(sealed: Any) -> None:
    """Secrets replaced in place in sealed segments (their data) and context rows (their JSON)."""
    r = redactor()
    r.refresh()
    segs = sealed.segments
    for i, seg in enumerate(segs):
        data = r.blob(seg[7])
        if data is not None:
            segs[i] = (*seg[:7], data, *seg[8:])
    sealed.ctx = [(p, t, n, r.text(js)) for p, t, n, js in sealed.ctx]
