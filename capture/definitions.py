"""Definitions (prospective provenance): what a script and its local modules define, from their AST.

Functions, classes, methods, module-level globals and imports become Definition entities
with source spans (line, column, end line, end column) and a code hash of their source
text; each function, method and class lists the calls it makes (name and line)."""
from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kg.model import Kind, ProvClass, Relation, edge, node

__all__ = ["Definition", "definitions", "imported_names", "definition_records"]


@dataclass
class Definition:
    """One thing a source file defines (or imports, for ``kind == "import"``)."""

    kind: str              # function | method | class | global | import
    name: str              # qualified name inside its file (``Class.method``)
    line: int
    col: int
    end_line: int
    end_col: int
    code_hash: str
    parent: str | None = None
    args: list[str] = field(default_factory=list)
    decorators: list[str] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)
    imports: str | None = None  # the module an import statement names
    is_async: bool = False


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _dotted(n: ast.AST) -> str:
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Attribute):
        return f"{_dotted(n.value)}.{n.attr}"
    if isinstance(n, ast.Call):
        return f"{_dotted(n.func)}()"
    if isinstance(n, ast.Subscript):
        return f"{_dotted(n.value)}[]"
    return type(n).__name__.lower()


class _Calls(ast.NodeVisitor):
    """The calls in a body, not descending into nested functions or classes (they list their own)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def visit_Call(self, n: ast.Call) -> None:
        self.calls.append((_dotted(n.func), n.lineno))
        self.generic_visit(n)

    def visit_FunctionDef(self, n: ast.AST) -> None:
        return None

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]
    visit_ClassDef = visit_FunctionDef  # type: ignore[assignment]
    visit_Lambda = visit_FunctionDef  # type: ignore[assignment]


def _body_calls(body: list[ast.stmt]) -> list[tuple[str, int]]:
    v = _Calls()
    for stmt in body:
        v.visit(stmt)
    return v.calls


def definitions(source: str, filename: str = "<script>") -> list[Definition]:
    """Everything ``source`` defines, in source order. A file that does not parse defines nothing."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError):
        return []
    out: list[Definition] = []
    out.extend(_walk(tree.body, source, None, in_class=False))
    return sorted(out, key=lambda d: (d.line, d.col, d.name))


def _span(n: Any, source: str, name: str, kind: str, parent: str | None) -> Definition:
    text = ast.get_source_segment(source, n) or ast.dump(n)
    return Definition(kind, name, n.lineno, n.col_offset, getattr(n, "end_lineno", n.lineno) or n.lineno,
                      getattr(n, "end_col_offset", 0) or 0, _hash(text), parent)


def _walk(body: list[ast.stmt], source: str, parent: str | None, *, in_class: bool) -> Iterator[Definition]:
    prefix = f"{parent}." if parent else ""
    for n in body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + n.name
            d = _span(n, source, name, "method" if in_class else "function", parent)
            a = n.args
            d.args = [x.arg for x in (*a.posonlyargs, *a.args)]
            if a.vararg:
                d.args.append("*" + a.vararg.arg)
            d.args += [x.arg for x in a.kwonlyargs]
            if a.kwarg:
                d.args.append("**" + a.kwarg.arg)
            d.decorators = [_dotted(x) for x in n.decorator_list]
            d.calls = _body_calls(n.body)
            d.is_async = isinstance(n, ast.AsyncFunctionDef)
            yield d
            yield from _walk(n.body, source, name + ".<locals>", in_class=False)
        elif isinstance(n, ast.ClassDef):
            name = prefix + n.name
            d = _span(n, source, name, "class", parent)
            d.args = [_dotted(b) for b in n.bases]
            d.decorators = [_dotted(x) for x in n.decorator_list]
            d.calls = _body_calls([s for s in n.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                              ast.ClassDef))])
            yield d
            yield from _walk(n.body, source, name, in_class=True)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                if isinstance(n, ast.Import):
                    mod = alias.name
                    local = alias.asname or alias.name
                else:
                    base = "." * n.level + (n.module or "")
                    mod = base if alias.name == "*" else f"{base}.{alias.name}" if n.module else base + alias.name
                    local = alias.asname or alias.name
                d = _span(n, source, prefix + local, "import", parent)
                d.imports = mod
                yield d
        elif parent is None or in_class:
            targets: list[ast.AST] = []
            if isinstance(n, ast.Assign):
                targets = list(n.targets)
            elif isinstance(n, (ast.AnnAssign, ast.AugAssign)):
                targets = [n.target]
            for t in targets:
                for name_node in ast.walk(t):
                    if isinstance(name_node, ast.Name):
                        d = _span(n, source, prefix + name_node.id, "attribute" if in_class else "global", parent)
                        d.calls = _body_calls([n])
                        yield d
            if parent is None and isinstance(n, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                # Top-level blocks (``if __name__ == "__main__":``) define and import things too.
                inner: list[ast.stmt] = []
                for key in ("body", "orelse", "finalbody"):
                    inner += getattr(n, key, []) or []
                for h in getattr(n, "handlers", []) or []:
                    inner += h.body
                yield from _walk(inner, source, None, in_class=False)


def imported_names(defs: list[Definition]) -> set[str]:
    """Absolute module names the definitions import (``from a.b import c`` -> a.b and a.b.c)."""
    out: set[str] = set()
    for d in defs:
        if d.kind == "import" and d.imports and not d.imports.startswith("."):
            out.add(d.imports)
            head = d.imports.rsplit(".", 1)[0]
            out.add(head)
    return out


def definition_records(trial_id: str, script_entity: str, path: str, defs: list[Definition]) -> list[Any]:
    """Definition entities (one per definition per trial), members of their script's Plan entity."""
    recs: list[Any] = []
    for i, d in enumerate(defs):
        did = f"{trial_id}/def/{script_entity.rsplit(':', 1)[-1]}/{i}"
        recs.append(node(did, ProvClass.ENTITY, Kind.DEFINITION, run=trial_id, name=d.name, type=d.kind, path=path,
                         line=d.line, col=d.col, end_line=d.end_line, end_col=d.end_col, code_hash=d.code_hash,
                         parent_def=d.parent, args=d.args or None, decorators=d.decorators or None,
                         calls=[list(c) for c in d.calls] or None, imports=d.imports,
                         is_async=d.is_async or None))
        recs.append(edge(Relation.HAD_MEMBER, script_entity, did, run=trial_id))
    return recs
