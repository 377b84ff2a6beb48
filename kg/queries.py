"""Named queries: ``.cypher`` files whose comment header names them, declares their parameters
and says what they answer. ``kg query NAME --param k=v`` runs one.

The files ship inside the package (``kg/data/queries``), so an installed provkg finds them;
in a source checkout the top-level ``queries/`` directory is searched too; a user adds or
overrides queries in ``$KG_HOME/queries`` or any directory listed in ``$KG_QUERIES_PATH``.

Header format (every line a ``//`` comment before the first statement line)::

    // name: upstream-lineage
    // answers: What an entity was derived from, nearest first.
    // param entity: string       The id of the entity to trace.
    // param depth: int = 10      Hops to follow (1 to 10).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from kg.config import kg_home
from kg.exceptions import InputError, NotFound

__all__ = ["NamedQuery", "Param", "load_queries", "get_query", "query_dirs", "parse_query", "TYPES"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_PARAM = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*:\s*(?P<type>[a-z]+)(?:\s*=\s*(?P<default>\S+))?\s*(?P<doc>.*)")


def _to_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


# Parameter types: how a command-line string becomes the value sent as a query parameter.
# ``run`` is a run reference (id, unique prefix or number) that the caller resolves to an id.
TYPES: dict[str, Callable[[str], Any]] = {"string": str, "run": str, "int": int, "float": float, "bool": _to_bool}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None
    doc: str

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class NamedQuery:
    """One named query file."""

    name: str
    answers: str
    params: tuple[Param, ...]
    text: str
    path: Path
    language: str = "cypher"
    extra: dict[str, str] = field(default_factory=dict)

    def bind(self, given: dict[str, str], resolve_run: Callable[[str], str] | None = None) -> dict[str, Any]:
        """Typed parameter values from ``k=v`` strings; InputError names a missing, unknown or bad one."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InputError(f"query {self.name!r} has no parameter {unknown[0]!r} "
                             f"(parameters: {', '.join(known) or 'none'})")
        out: dict[str, Any] = {}
        for p in self.params:
            raw = given.get(p.name, p.default)
            if raw is None:
                raise InputError(f"query {self.name!r} needs --param {p.name}=... ({p.doc or p.type})")
            try:
                value = TYPES[p.type](raw)
            except ValueError:
                raise InputError(f"parameter {p.name!r} of query {self.name!r} must be {p.type}, "
                                 f"not {raw!r}") from None
            if p.type == "run" and resolve_run is not None and value != "*":
                value = resolve_run(value)
            out[p.name] = value
        return out


def parse_query(text: str, path: Path) -> NamedQuery:
    """Parse one file; InputError if its header is incomplete."""
    language = path.suffix.lstrip(".")
    meta: dict[str, str] = {}
    params: list[Param] = []
    body: list[str] = []
    in_header = True
    for line in text.splitlines():
        stripped = line.strip()
        if in_header and stripped.startswith(("//", "#")):
            content = stripped.lstrip("/#").strip()
            key, sep, value = content.partition(":")
            key = key.strip().lower()
            if key.startswith("param ") and sep:
                m = _PARAM.match(key[6:].strip() + ":" + value)
                if m is None or m["type"] not in TYPES:
                    raise InputError(f"{path}: bad parameter line {stripped!r} "
                                     f"(types: {', '.join(TYPES)})")
                # keep the parameter name's case from the original line
                pname = content[6:].split(":", 1)[0].strip()
                params.append(Param(pname, m["type"], m["default"], m["doc"].strip()))
            elif sep and key in ("name", "answers", "returns", "example"):
                meta[key] = (meta.get(key, "") + " " + value.strip()).strip()
            elif not sep and meta.get("answers") is not None and content:
                meta["answers"] += " " + content  # a wrapped 'answers' line
            continue
        if stripped:
            in_header = False
        body.append(line)
    name = meta.get("name")
    if not name or not _NAME.match(name):
        raise InputError(f"{path}: the header needs a '// name: lower-case-name' line")
    if not meta.get("answers"):
        raise InputError(f"{path}: the header needs a '// answers: ...' line")
    extra = {k: v for k, v in meta.items() if k not in ("name", "answers")}
    return NamedQuery(name, meta["answers"], tuple(params), "\n".join(body).strip() + "\n", path, language, extra)


def query_dirs() -> list[Path]:
    """Where queries are looked up; later directories override earlier ones by name."""
    dirs = [Path(str(resources.files("kg") / "data" / "queries"))]
    checkout = Path(__file__).resolve().parent.parent / "queries"  # a source checkout's queries/
    if checkout.is_dir():
        dirs.append(checkout)
    dirs.append(kg_home() / "queries")
    for entry in os.environ.get("KG_QUERIES_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    return dirs


def load_queries(language: str | None = "cypher") -> dict[str, NamedQuery]:
    """Every named query (of ``language``; all when None), by name."""
    found: dict[str, NamedQuery] = {}
    for d in query_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.iterdir()):
            if path.suffix not in (".cypher", ".sparql") or (language and path.suffix != f".{language}"):
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}") from None
            q = parse_query(text, path)
            found[q.name] = q
    return found


def get_query(name: str, language: str | None = "cypher") -> NamedQuery:
    """The named query; NotFound lists the available names."""
    queries = load_queries(language)
    if name not in queries:
        raise NotFound(f"no named query {name!r} (available: {', '.join(sorted(queries)) or 'none'})")
    return queries[name]
