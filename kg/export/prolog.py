"""Prolog facts (SWI-Prolog) out of the graph, streamed; the rules live in kg/data/prolog/rules.pl.

Every id, kind and key is written as a quoted atom and every string as a double-quoted
string, escaped, so no text in the graph can end a clause or inject a directive.
The predicate list (with arities) is PREDICATES, documented in docs/exports.md."""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import IO, Any

import orjson

from kg.export import register_exporter
from kg.model.prov import COMPACT_KEYS, is_compact
from kg.model.records import Edge, Node
from kg.model.terms import Kind, Relation

__all__ = ["write_prolog", "quote_atom", "quote_string", "term", "PREDICATES", "KIND_PREDICATES",
           "RELATION_PREDICATES", "rules_path"]

# Relation -> fact name: used(Src, Dst, Time, Role), was_generated_by(...), ...
RELATION_PREDICATES = {r.value: r.value.lower() for r in Relation}
# Kind -> rule name in rules.pl: is_run(Id), is_file_version(Id), ...
KIND_PREDICATES = {k.value: "is_" + re.sub(r"(?<!^)(?=[A-Z])", "_", k.value).lower() for k in Kind}
# Fact predicates and their arities (the header declares them all, so a goal over a
# relation with no facts fails instead of raising an existence error).
PREDICATES = {"node": 3, "prop": 3, "edge_prop": 6, **{p: 4 for p in RELATION_PREDICATES.values()}}
# Props whose string values name other nodes: written as atoms, like ids, so they join.
_REF_PROPS = frozenset({"run", "parent", "plan", "activity", "generation", "usage", "starter", "ender",
                        "prov_id"})

_SPECIAL = re.compile(r"[\\'\"\x00-\x1f\x7f\ud800-\udfff]")
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(text: str, quote: str) -> str:
    def one(m: re.Match[str]) -> str:
        ch = m.group(0)
        if ch in _ESCAPES:
            return _ESCAPES[ch] if ch in "\\\n\t\r" or ch == quote else ch
        if "\ud800" <= ch <= "\udfff":
            return "\ufffd"  # a lone surrogate (undecodable file name) cannot be written as UTF-8
        return f"\\x{ord(ch):x}\\"

    return _SPECIAL.sub(one, text)


def quote_atom(text: str) -> str:
    """``text`` as a quoted Prolog atom: 'it\\'s'."""
    if _SPECIAL.search(text) is None:
        return f"'{text}'"
    return f"'{_escape(text, chr(39))}'"


def quote_string(text: str) -> str:
    """``text`` as a double-quoted SWI-Prolog string."""
    if _SPECIAL.search(text) is None:
        return f'"{text}"'
    return f'"{_escape(text, chr(34))}"'


def _float(value: float) -> str:
    if math.isnan(value):
        return "1.5NaN"
    if math.isinf(value):
        return "1.0Inf" if value > 0 else "-1.0Inf"
    return repr(value)


def term(value: Any, *, ref: bool = False) -> str:
    """A prop value as a Prolog term: strings, numbers, true/false, null, json("...")."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return quote_atom(value) if ref else quote_string(value)
    text = orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    return f"json({quote_string(text)})"


def _header() -> str:
    decl = ", ".join(f"{p}/{a}" for p, a in PREDICATES.items())
    return ("% provkg facts: load with the rules, e.g. swipl kg/data/prolog/rules.pl facts.pl\n"
            "% Predicates and arities: docs/exports.md. Written for SWI-Prolog 7 or later.\n"
            ":- encoding(utf8).\n"
            f":- dynamic(({decl})).\n:- multifile(({decl})).\n:- discontiguous(({decl})).\n\n")


def write_prolog(nodes: Iterable[Node], edges: Iterable[Edge], out: IO[str], **_options: Any) -> int:
    """Write node/3, prop/3, one fact per relation and edge_prop/6; returns the record count."""
    out.write(_header())
    count = 0
    buf: list[str] = []
    for n in nodes:
        nid = quote_atom(n.id)
        buf.append(f"node({nid}, {n.cls.lower()}, {quote_atom(n.kind)}).\n")
        compact = is_compact(n)
        for key, value in n.props.items():
            if (compact and key in COMPACT_KEYS) or value is None:
                continue  # written as the Value entities and relations they stand for; None = absent
            buf.append(f"prop({nid}, {quote_atom(key)}, {term(value, ref=key in _REF_PROPS)}).\n")
        count += 1
        if len(buf) > 4096:
            out.write("".join(buf))
            buf.clear()
    for e in edges:
        p = e.props
        pred = RELATION_PREDICATES[e.rel]
        src, dst = quote_atom(e.src), quote_atom(e.dst)
        role = p.get("role")
        role_t = term(role)
        buf.append(f"{pred}({src}, {dst}, {term(p.get('time'))}, {role_t}).\n")
        for key, value in p.items():
            if key in ("time", "role") or value is None:
                continue
            buf.append(f"edge_prop({pred}, {src}, {dst}, {role_t}, {quote_atom(key)}, "
                       f"{term(value, ref=key in _REF_PROPS)}).\n")
        count += 1
        if len(buf) > 4096:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    return count


def rules_path() -> Path:
    """The rules file shipped with provkg (lineage closure, derivation chains, file influence)."""
    return Path(str(resources.files("kg") / "data" / "prolog" / "rules.pl"))


register_exporter("prolog", write_prolog)
