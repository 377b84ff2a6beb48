"""Fine-grained dataflow of a script (`kg run --dataflow`): which value of which variable was
computed from which others, as PROV.

The script's source is compiled from a rewritten syntax tree (the file name and every line and
column stay the user's, so tracebacks are unchanged): after each assignment to a name (plain,
augmented, annotated, tuple unpacking, a ``for`` target, a ``with ... as``), at the start of a
function for its parameters, and around a ``return`` value, one call ``__kg_df__(site, value)``
records the value. Everything else about the event is fixed at rewrite time and kept in a
table of sites (``Sites``): the variable and its position, and the *slots* its expression read,
a slot being one variable of one scope resolved by Python's own scoping rules (``symtable``).
The recorder (capture._flowrec, in C where built) then only looks up the current version of
each slot, so an assignment costs a C call and one small tuple.

What it records, and what it does not:
- a variable version is derived from the current versions of the names its expression read; a
  call ``y = f(x)`` of a function defined in the script also derives ``y`` from ``f``'s last
  ``return`` (the value that flowed back), and ``f``'s parameters from the caller's arguments
  (a name, or the return of a script function called in that argument's place);
- versions are kept per function (by its qualified name), not per call: in recursion the inner
  call's variables are the ones later reads see;
- only the main script is rewritten (its local modules are traced, not rewritten).
"""
from __future__ import annotations

import ast
import builtins
import logging
import symtable
import types
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Sites", "compile_with_dataflow", "rewrite", "install", "uninstall", "HOOK", "ASSIGN", "CALL", "FILE",
           "WRITTEN", "STORED"]

HOOK = "__kg_df__"
# Site kinds: a version recorded; a call of a script function about to happen; the file object
# of a ``f.write(...)`` (or ``print(..., file=f)``, ``json.dump(x, f)``); the value written there
# (a version, noted as written to that file); a store into an object (``o.x = v``, ``d[k] = v``:
# a version of o, kept as its type and size, since a repr of the whole object at every store
# into it would cost more than the rest of the recording).
ASSIGN, CALL, FILE, WRITTEN, STORED = 0, 1, 2, 3, 4
_WRITES = ("write", "writelines")                      # f.write(x), f.writelines(xs)
_DUMPS = {("json", "dump"), ("pickle", "dump")}         # json.dump(x, f): the module's name as imported


@dataclass
class Sites:
    """The site table of one rewritten script.

    ``table[i]`` is ``(kind, target, reads, fn, info)``:
    - ASSIGN: ``target`` the slot written, ``reads`` the slots read (``-(j+1)``: the caller's
      argument in position j of a call of function ``fn``), ``info`` = (name, scope, line, col);
    - CALL: ``target`` the called function, ``reads`` one slot per positional argument (-1: none);
    - FILE and WRITTEN: ``f.write(x)``, the file (f) and an ASSIGN of ``f.write`` (x); ``fn`` of
      both is the FILE site's number, which pairs them whichever the program evaluates first;
    - STORED: an ASSIGN of the object stored into.
    """

    table: list[tuple[int, int, tuple[int, ...], int, tuple[str, str, int, int]]] = field(default_factory=list)
    slots: dict[tuple[str, str], int] = field(default_factory=dict)      # (scope, name) -> slot
    functions: dict[str, int] = field(default_factory=dict)              # function name -> id

    def slot(self, scope: str, name: str) -> int:
        return self.slots.setdefault((scope, name), len(self.slots))

    def function(self, name: str) -> int:
        return self.functions.setdefault(name, len(self.functions))

    def add(self, kind: int, target: int, reads: list[int], fn: int, info: tuple[str, str, int, int]) -> int:
        self.table.append((kind, target, tuple(reads), fn, info))
        return len(self.table) - 1


_RETURNS = "()"  # the scope of return slots: ("()", f) holds function f's last return value


class _Scope:
    """A scope of the script as the rewrite walks it: its name and its symbol table."""

    def __init__(self, name: str, table: symtable.SymbolTable, parent: _Scope | None) -> None:
        self.name, self.table, self.parent = name, table, parent
        self._children = list(table.get_children())

    def child(self, node: ast.AST, name: str) -> symtable.SymbolTable:
        line = getattr(node, "lineno", -1)
        for i, t in enumerate(self._children):  # the first unclaimed table of that name and line
            if t.get_name() == name and t.get_lineno() == line:
                return self._children.pop(i)
        for i, t in enumerate(self._children):  # (decorated defs: symtable's line may differ)
            if t.get_name() == name:
                return self._children.pop(i)
        raise LookupError(name)

    def owner(self, name: str) -> str | None:
        """The scope whose variable ``name`` is when read here (Python's rules), None: a builtin or unknown."""
        try:
            sym = self.table.lookup(name)
        except KeyError:
            return None
        if sym.is_global() or sym.is_declared_global():
            return "<module>" if self._module_binds(name) else None  # else a builtin
        if sym.is_free():  # a closure's variable: the nearest enclosing function that owns it
            s = self.parent
            while s is not None:
                if s.table.get_type() == "function":
                    try:
                        if s.table.lookup(name).is_local():
                            return s.name
                    except KeyError:
                        pass
                s = s.parent
            return None
        if sym.is_local() or sym.is_parameter():
            return self.name
        return "<module>" if self.parent is None else None

    def _module_binds(self, name: str) -> bool:
        top = self
        while top.parent is not None:
            top = top.parent
        try:
            sym = top.table.lookup(name)
        except KeyError:
            return False
        return sym.is_assigned() or sym.is_imported() or sym.is_namespace()


class _Rewrite(ast.NodeTransformer):
    def __init__(self, functions: set[str], top: symtable.SymbolTable) -> None:
        self.functions = functions
        self.sites = Sites()
        self.scope = _Scope("<module>", top, None)
        self.nested = 0  # inside a lambda or comprehension

    # -- what an expression reads ------------------------------------------------
    def _slot_of(self, n: ast.expr) -> int:
        """The slot an argument expression stands for: a name (``o.x`` and ``d[k]``: the object's), or a
        call of a script function (-1: none)."""
        while isinstance(n, (ast.Attribute, ast.Subscript)):
            n = n.value
        if isinstance(n, ast.Name):
            if self.nested:
                return -1
            owner = self.scope.owner(n.id)
            return -1 if owner is None else self.sites.slot(owner, n.id)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.functions:
            return self.sites.slot(_RETURNS, n.func.id)
        return -1

    def _reads(self, expr: ast.AST | None) -> list[int]:
        """Slots an expression loads (in order, once each), a script function's call as its return slot."""
        out: list[int] = []
        if expr is None:
            return out
        for n in ast.walk(expr):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) or \
                    isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.functions:
                s = self._slot_of(n)  # type: ignore[arg-type]
                if s >= 0 and s not in out:
                    out.append(s)
        return out

    # -- the hook calls inserted ----------------------------------------------------
    def _hook(self, site: int, value: ast.expr) -> ast.Call:
        """``__kg_df__(site, value)``: returns value."""
        return ast.Call(func=ast.Name(id=HOOK, ctx=ast.Load()), args=[ast.Constant(site), value], keywords=[])

    def _record(self, name: str, at: ast.AST, reads: list[int], value: ast.expr, *, target: int | None = None,
                fn: int = -1, kind: int = ASSIGN, scope: str | None = None) -> ast.Call:
        line, col = getattr(at, "lineno", 0), getattr(at, "col_offset", 0)
        scope = self.scope.name if scope is None else scope
        slot = self.sites.slot(scope, name) if target is None else target
        site = self.sites.add(kind, slot, reads, fn, (name, scope, line, col))
        return ast.copy_location(self._hook(site, value), at)

    def _stmt(self, name: str, at: ast.AST, reads: list[int], **kw: Any) -> ast.stmt:
        return ast.copy_location(ast.Expr(self._record(name, at, reads, ast.Name(id=name, ctx=ast.Load()), **kw)), at)

    def _mutations(self, targets: list[ast.expr]) -> list[tuple[ast.Name, str, list[int]]]:
        """The objects that targets like ``o.x`` and ``d[k]`` store into: (the object's name, the
        scope it belongs to, the slots the target reads: the object itself, so its new version
        derives from the one before, and a key). Taken before generic_visit, as reads are."""
        out: list[tuple[ast.Name, str, list[int]]] = []
        for store in (s for t in targets for s in _stores(t)):
            base: ast.expr = store
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if not isinstance(base, ast.Name):  # (f().x = v: no name of ours)
                continue
            owner = self.scope.owner(base.id)
            if owner is not None:  # (a builtin or an unknown name: no slot of ours)
                out.append((base, owner, self._reads(store)))
        return out

    def _after(self, stmt: ast.stmt, targets: list[ast.Name], reads: list[int],
               mutated: list[tuple[ast.Name, str, list[int]]] = ()) -> list[ast.stmt]:  # type: ignore[assignment]
        """The statement, then one version of each name it bound and of each object it stored into."""
        return [stmt] + [self._stmt(t.id, t, reads) for t in targets] + \
            [self._stmt(o.id, o, list(dict.fromkeys(reads + own)), scope=scope, kind=STORED)
             for o, scope, own in mutated]

    # -- scopes -------------------------------------------------------------------
    def _enter(self, node: Any) -> _Scope:
        outer = self.scope
        name = node.name if outer.parent is None else f"{outer.name}.{node.name}"
        self.scope = _Scope(name, outer.child(node, node.name), outer)
        return outer

    def _function(self, node: Any) -> Any:
        # decorators, defaults and annotations belong to the enclosing scope
        for part in (*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d]):
            self.visit(part)
        outer = self._enter(node)
        node.body = [self.visit(s) for s in node.body]
        node.body = [s for x in node.body for s in (x if isinstance(x, list) else [x])]
        a = node.args
        positional = [p.arg for p in (*a.posonlyargs, *a.args)]
        params = positional + [p.arg for p in a.kwonlyargs] + [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        fn = self.sites.function(node.name)
        head = [self._stmt(p, node, [-(j + 1)] if j < len(positional) else [], fn=fn)
                for j, p in enumerate(params)]
        self.scope = outer
        body = node.body
        # a docstring stays the first statement
        doc = body[:1] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str) else []
        node.body = doc + head + body[len(doc):]
        return node

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        for part in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(part)
        outer = self._enter(node)
        body = [self.visit(s) for s in node.body]
        node.body = [s for x in body for s in (x if isinstance(x, list) else [x])]
        self.scope = outer
        return node

    def _expression_scope(self, node: ast.AST) -> Any:
        # A lambda or comprehension has a scope of its own: nothing to insert but call marks,
        # whose arguments' names are that scope's, not slots of ours.
        self.nested += 1
        self.generic_visit(node)
        self.nested -= 1
        return node

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _expression_scope

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.functions:
            # f(x, y) -> __kg_df__(site, f)(x, y): the site names f and the slots of x and y
            args = [self._slot_of(a) for a in node.args]
            site = self.sites.add(CALL, self.sites.function(node.func.id), args, -1, ("", self.scope.name, 0, 0))
            node.func = ast.copy_location(self._hook(site, node.func), node.func)
        return node

    def visit_Expr(self, node: ast.Expr) -> Any:
        call = node.value
        how = _writes_to_file(call) if isinstance(call, ast.Call) else None
        if how is None or how == "print" and self.scope.owner("print") is not None:  # (the script's own print)
            return self.generic_visit(node)
        assert isinstance(call, ast.Call)
        written = call.args if how == "print" else call.args[:1]
        reads = list(dict.fromkeys(r for x in written for r in self._reads(x)))
        self.generic_visit(node)
        # f.write(x) -> __kg_df__(file site, f).write(__kg_df__(written site, x)); print(x, file=f) and
        # json.dump(x, f) the same, there x is evaluated first: ``fn`` pairs the two sites
        pair = len(self.sites.table)
        # (_writes_to_file made sure the file is a plain name)
        holder: Any = call.func if how in _WRITES else next(k for k in call.keywords if k.arg == "file") \
            if how == "print" else None
        f: Any = holder.value if holder is not None else call.args[1]
        name = f"{f.id}.{how}"
        hooked = self._record(name, f, [], f, kind=FILE, fn=pair)
        if holder is not None:
            holder.value = hooked
        else:
            call.args[1] = hooked
        if len(written) == 1 and not isinstance(written[0], ast.Starred):
            call.args[0] = self._record(name, written[0], reads, written[0], kind=WRITTEN, fn=pair)
        else:  # print(a, *b, file=f) -> print(*__kg_df__(site, (a, *b)), file=f): the values written, as one
            values = ast.copy_location(ast.Tuple(elts=written, ctx=ast.Load()), written[0])
            call.args = [ast.Starred(self._record(name, written[0], reads, values, kind=WRITTEN, fn=pair),
                                     ast.Load())]
        return node

    # (reads are taken before generic_visit: it rewrites the calls they name)
    def visit_Assign(self, node: ast.Assign) -> Any:
        reads = self._reads(node.value)
        mutated = self._mutations(node.targets)
        self.generic_visit(node)
        return self._after(node, [n for t in node.targets for n in _targets(t)], reads, mutated)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        targets = _targets(node.target)
        reads = [self._slot_of(t) for t in targets] + self._reads(node.value)
        mutated = self._mutations([node.target])  # o.x += v: o's new version reads o (and v)
        self.generic_visit(node)
        return self._after(node, targets, [r for r in dict.fromkeys(reads) if r >= 0], mutated)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        reads = self._reads(node.value)
        mutated = self._mutations([node.target])
        self.generic_visit(node)
        if node.value is None:
            return node
        return self._after(node, _targets(node.target), reads, mutated)

    def _loop(self, node: Any) -> Any:
        reads = self._reads(node.iter)
        self.generic_visit(node)
        node.body = [self._stmt(t.id, t, reads) for t in _targets(node.target)] + node.body
        return node

    visit_For = _loop
    visit_AsyncFor = _loop

    def _with(self, node: Any) -> Any:
        reads_of = [self._reads(item.context_expr) for item in node.items]
        self.generic_visit(node)
        recs = []
        for item, reads in zip(node.items, reads_of):
            if item.optional_vars is not None:
                recs += [self._stmt(t.id, t, reads) for t in _targets(item.optional_vars)]
        node.body = recs + node.body
        return node

    visit_With = _with
    visit_AsyncWith = _with

    def visit_Return(self, node: ast.Return) -> Any:
        reads = self._reads(node.value)
        self.generic_visit(node)
        if node.value is None or self.scope.table.get_type() != "function":
            return node
        # return <value> -> return __kg_df__(site, <value>): the function's return slot
        bare = self.scope.name.rpartition(".")[2]
        node.value = self._record("return", node, reads, node.value, target=self.sites.slot(_RETURNS, bare))
        return node


def _leaves(t: ast.AST, kinds: type | tuple[type, ...]) -> list[Any]:
    """The parts of an assignment target of the given node types, inside tuples and lists too."""
    if isinstance(t, kinds):
        return [t]
    if isinstance(t, (ast.Tuple, ast.List)):
        return [n for e in t.elts for n in _leaves(e, kinds)]
    if isinstance(t, ast.Starred):
        return _leaves(t.value, kinds)
    return []


def _targets(t: ast.AST) -> list[ast.Name]:
    """The names an assignment target binds."""
    return _leaves(t, ast.Name)


def _stores(t: ast.AST) -> list[ast.Attribute | ast.Subscript]:
    """The stores into objects of an assignment target (``o.x``, ``d[k]``)."""
    return _leaves(t, (ast.Attribute, ast.Subscript))


def _writes_to_file(call: ast.Call) -> str | None:
    """How a call statement writes to a file named by a plain name, if it does: "write" or
    "writelines" (``f.write(x)``), "print" (``print(..., file=f)``, with something to print), or
    "json.dump" / "pickle.dump" (``json.dump(x, f, ...)``)."""
    func, args = call.func, call.args
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.attr in _WRITES and len(args) == 1 and not call.keywords and not isinstance(args[0], ast.Starred):
            return func.attr
        if (func.value.id, func.attr) in _DUMPS and len(args) >= 2 and isinstance(args[1], ast.Name) \
                and not isinstance(args[0], ast.Starred):
            return f"{func.value.id}.{func.attr}"
    if isinstance(func, ast.Name) and func.id == "print" and args and \
            any(k.arg == "file" and isinstance(k.value, ast.Name) for k in call.keywords):
        return "print"
    return None


def rewrite(source: bytes | str, filename: str) -> tuple[ast.Module, Sites]:
    """The rewritten tree of a script and its site table (raises what ``compile`` raises)."""
    tree = ast.parse(source, filename)
    text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
    functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    rw = _Rewrite(functions, symtable.symtable(text, filename, "exec"))
    tree = ast.fix_missing_locations(rw.visit(tree))
    return tree, rw.sites


def compile_with_dataflow(source: bytes, filename: str, sites_out: list[Sites] | None = None) -> types.CodeType:
    """``compile(source, filename, "exec")`` of the rewritten tree; its site table is appended to
    ``sites_out``. A script that does not compile raises what ``compile`` raises; one the rewrite
    cannot handle runs as it is, without dataflow (the program comes first)."""
    try:
        tree, sites = rewrite(source, filename)
        code = compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        raise
    except Exception as exc:
        logging.getLogger("kg.dataflow").warning("provkg: no dataflow for %s (%r)", filename, exc)
        return compile(source, filename, "exec", dont_inherit=True)
    if sites_out is not None:
        sites_out.append(sites)
    return code


def install(recorder: Any) -> None:
    """Make ``recorder`` reachable from the rewritten code (a builtin: every function sees it, and
    the program's own globals and locals stay as they were)."""
    setattr(builtins, HOOK, recorder)


def _inert(site: int, value: Any) -> Any:
    return value


def uninstall() -> None:
    """Stop recording. The name stays, bound to a hook that records nothing: a daemon thread of
    the program may still run rewritten code, and must not meet a NameError."""
    setattr(builtins, HOOK, _inert)
