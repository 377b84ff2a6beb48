"""Fine-grained dataflow of a script (`kg run --dataflow`): which value of which variable was
computed from which others, as PROV.

The script's source is compiled from a rewritten syntax tree (the file name and every line and
column stay the user's, so tracebacks are unchanged): after each assignment to a name (plain,
augmented, annotated, tuple unpacking, a ``for`` target, a ``with ... as``), at the start of a
function for its parameters, and before a ``return``, one call records the variable, its
position, the names the right-hand side read and a summary of the value. The hot path only
appends a tuple; versions and derivations are worked out once, at the end (``records``).

What it records, and what it does not:
- a variable version is derived from the current versions of the names its expression read, in
  its own function or the module; a call ``y = f(x)`` of a function defined in the script also
  derives ``y`` from ``f``'s last ``return`` (the value that flowed back);
- versions are kept per function (by its qualified name), not per call: in recursion the inner
  call's variables are the ones later reads see;
- only the main script is rewritten (its local modules are traced, not rewritten).
"""
from __future__ import annotations

import ast
import builtins
import types
from typing import Any

from capture.values import ATOMIC, summarize
from kg.model import Edge, Kind, Node, ProvClass, Relation
from kg.model.records import edge, node

__all__ = ["Recorder", "compile_with_dataflow", "install", "uninstall"]

_NAME = "__kg_dataflow__"


class Recorder:
    """Where the rewritten script's calls go: ``a(scope, name, line, col, reads, value)``."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, int, tuple[str, ...], Any]] = []

    def c(self, scope: str, fn_name: str, args: tuple[str, ...], fn: Any) -> Any:
        """A call of script function ``fn_name`` with these argument names (positional; "" for an
        argument that is not a plain name) is about to happen: its parameters derive from them."""
        self.events.append((scope, "()" + fn_name, 0, 0, args, None))
        return fn

    def a(self, scope: str, name: str, line: int, col: int, reads: tuple[str, ...], value: Any) -> Any:
        try:
            self.events.append((scope, name, line, col, reads, value if type(value) in ATOMIC else summarize(value)))
        except Exception:  # capture never raises into the program
            pass
        return value

    def records(self, trial_id: str) -> list[Node | Edge]:
        """One Entity per variable version (kind Variable), WAS_DERIVED_FROM to the versions it
        was computed from, WAS_GENERATED_BY the trial."""
        out: list[Node | Edge] = []
        current: dict[tuple[str, str], str] = {}
        returns: dict[str, str] = {}
        iteration: dict[tuple[str, str, int], int] = {}
        calls: dict[str, tuple[str, tuple[str, ...]]] = {}  # function -> (caller scope, argument names)

        def version(scope: str, name: str) -> str | None:  # a name's current version, else the module's
            return current.get((scope, name)) or current.get(("<module>", name))

        for i, (scope, name, line, col, reads, value) in enumerate(self.events):
            if name.startswith("()"):
                calls[name[2:]] = (scope, reads)
                continue
            vid = f"{trial_id}/df/{i}"
            sources = []
            for r in reads:
                if r.startswith("()"):  # a call of a script function: its last return flowed in
                    src = returns.get(r[2:])
                elif r.startswith("@"):  # a parameter: the caller's argument in that position
                    caller, args = calls.get(scope.rpartition(".")[2], ("", ()))
                    j = int(r[1:])
                    src = version(caller, args[j]) if j < len(args) and args[j] else None
                else:
                    src = version(scope, r)
                if src is not None and src not in sources:
                    sources.append(src)
            k = (scope, name, line)
            iteration[k] = iteration.get(k, 0) + 1
            out.append(node(vid, ProvClass.ENTITY, Kind.VARIABLE, run=trial_id, name=name, scope=scope, line=line,
                            col=col, value=value, iteration=iteration[k] if iteration[k] > 1 else None))
            out.append(edge(Relation.WAS_GENERATED_BY, vid, trial_id, role="dataflow", run=trial_id))
            for src in sources:
                out.append(edge(Relation.WAS_DERIVED_FROM, vid, src, run=trial_id))
            if name == "return":  # keyed like calls, by the function's own name (a call names no outer scope)
                returns[scope.rpartition(".")[2]] = vid
            else:
                current[(scope, name)] = vid
        return out


def _reads(expr: ast.AST | None, functions: set[str]) -> list[str]:
    """Names an expression loads (in order, once each); ``()f`` for a call of script function f."""
    if expr is None:
        return []
    out: list[str] = []
    for n in ast.walk(expr):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            name = n.id
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions:
            name = "()" + n.func.id
        else:
            continue
        if name not in out:
            out.append(name)
    return out


def _strings(items: list[str]) -> ast.Tuple:
    return ast.Tuple(elts=[ast.Constant(x) for x in items], ctx=ast.Load())


def _targets(t: ast.AST) -> list[ast.Name]:
    if isinstance(t, ast.Name):
        return [t]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for e in t.elts for n in _targets(e)]
    if isinstance(t, ast.Starred):
        return _targets(t.value)
    return []


class _Rewrite(ast.NodeTransformer):
    def __init__(self, functions: set[str]) -> None:
        self.functions = functions
        self.scope = ["<module>"]

    def _hook(self, method: str, *args: ast.expr) -> ast.Call:
        """``__kg_dataflow__.method(<this scope>, *args)``"""
        return ast.Call(func=ast.Attribute(value=ast.Name(id=_NAME, ctx=ast.Load()), attr=method, ctx=ast.Load()),
                        args=[ast.Constant(".".join(self.scope[1:]) or "<module>"), *args], keywords=[])

    def _rec(self, name: str, at: ast.AST, reads: list[str], value: ast.expr) -> ast.stmt:
        call = self._hook("a", ast.Constant(name), ast.Constant(getattr(at, "lineno", 0)),
                          ast.Constant(getattr(at, "col_offset", 0)), _strings(reads), value)
        return ast.copy_location(ast.Expr(call), at)

    def _after(self, stmt: ast.stmt, targets: list[ast.Name], reads: list[str]) -> list[ast.stmt]:
        return [stmt] + [self._rec(t.id, t, reads, ast.Name(id=t.id, ctx=ast.Load())) for t in targets]

    def _function(self, node: Any) -> Any:
        self.scope.append(node.name)
        self.generic_visit(node)
        a = node.args
        positional = [p.arg for p in (*a.posonlyargs, *a.args)]
        params = positional + [p.arg for p in a.kwonlyargs] + [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        head = [self._rec(p, node, [f"@{j}"] if j < len(positional) else [], ast.Name(id=p, ctx=ast.Load()))
                for j, p in enumerate(params)]
        self.scope.pop()
        body = node.body
        # a docstring stays the first statement
        doc = body[:1] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str) else []
        node.body = doc + head + body[len(doc):]
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.functions:
            # f(x, y) -> __kg_dataflow__.c(scope, "f", ("x", "y"), f)(x, y)
            names = [a.id if isinstance(a, ast.Name) else "" for a in node.args]
            node.func = ast.copy_location(self._hook("c", ast.Constant(node.func.id), _strings(names), node.func),
                                          node.func)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        return node  # an expression: nothing to insert into

    # (reads are taken before generic_visit: it rewrites the calls they name)
    def visit_Assign(self, node: ast.Assign) -> Any:
        reads = _reads(node.value, self.functions)
        self.generic_visit(node)
        return self._after(node, [n for t in node.targets for n in _targets(t)], reads)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        targets = _targets(node.target)
        reads = [t.id for t in targets] + _reads(node.value, self.functions)
        self.generic_visit(node)
        return self._after(node, targets, reads)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        reads = _reads(node.value, self.functions)
        self.generic_visit(node)
        if node.value is None:
            return node
        return self._after(node, _targets(node.target), reads)

    def _loop(self, node: Any) -> Any:
        reads = _reads(node.iter, self.functions)
        self.generic_visit(node)
        targets = _targets(node.target)
        node.body = [self._rec(t.id, t, reads, ast.Name(id=t.id, ctx=ast.Load())) for t in targets] + node.body
        return node

    visit_For = _loop
    visit_AsyncFor = _loop

    def _with(self, node: Any) -> Any:
        reads_of = [_reads(item.context_expr, self.functions) for item in node.items]
        self.generic_visit(node)
        recs = []
        for item, reads in zip(node.items, reads_of):
            if item.optional_vars is not None:
                recs += [self._rec(t.id, t, reads, ast.Name(id=t.id, ctx=ast.Load()))
                         for t in _targets(item.optional_vars)]
        node.body = recs + node.body
        return node

    visit_With = _with
    visit_AsyncWith = _with

    def visit_Return(self, node: ast.Return) -> Any:
        reads = _reads(node.value, self.functions)
        self.generic_visit(node)
        if node.value is None or len(self.scope) < 2:
            return node
        # return <value> -> return __kg_dataflow__.a(scope, "return", ..., <value>)
        rec = self._rec("return", node, reads, node.value)
        node.value = rec.value  # type: ignore[attr-defined]
        return node


def compile_with_dataflow(source: bytes, filename: str) -> types.CodeType:
    """``compile(source, filename, "exec")`` of the rewritten tree (raises what compile raises)."""
    tree = ast.parse(source, filename)
    functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    tree = ast.fix_missing_locations(_Rewrite(functions).visit(tree))
    return compile(tree, filename, "exec", dont_inherit=True)


def install(recorder: Recorder) -> None:
    """Make ``recorder`` reachable from the rewritten code (a builtin: every function sees it)."""
    setattr(builtins, _NAME, recorder)


def uninstall() -> None:
    if hasattr(builtins, _NAME):
        delattr(builtins, _NAME)
