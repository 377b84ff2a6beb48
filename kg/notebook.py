"""provkg in IPython and Jupyter: magics that capture trials, objects that display as graphs.

    %load_ext kg
    import kg.notebook as nb

    trial = %kg_run simulation.py {data1} {data2}     # a script, as `kg run` (every option works)
    trial                                             # shows its graph (SVG through graphviz)

    %%kg_run --name sim --interactive                 # a cell as a trial; --interactive shares
    total = sum(range(n))                             # the notebook's variables both ways

    nb.History()                                      # the evolution of trials
    nb.Diff(1, 2)                                     # what changed between two trials
    list(trial.query("file_influence(F, T)"))         # Prolog answers as dicts
    trial.sparql("file-influence"), trial.to_pandas(), trial.to_networkx()
    %kg list                                          # any CLI command

Without ``--interactive`` a script or cell runs in its own process (`kg run`), as from a
terminal; with it, the cell runs in the kernel under the tracer and keeps its variables.
"""
from __future__ import annotations

import difflib
import hashlib
import html
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kg.config import kg_home
from kg.exceptions import ConfigError, InputError, KGError, NotFound
from kg.model.records import Edge, Node
from kg.stores import Store, open_store

__all__ = ["Trial", "Run", "History", "Diff", "kg_run", "load_ipython_extension"]


def _svg(dot_text: str, width: Any = None, height: Any = None) -> str:
    """Graphviz's SVG of ``dot_text``, sized for a notebook cell (CSS ``width``/``height``)."""
    exe = shutil.which("dot")
    if exe is None:
        raise ConfigError("drawing needs Graphviz's `dot` (apt-get install graphviz)")
    done = subprocess.run([exe, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ConfigError(f"graphviz: {done.stderr.strip().splitlines()[0] if done.stderr.strip() else 'failed'}")
    svg = done.stdout[done.stdout.find("<svg"):]
    style = "; ".join(f"{k}: {v if isinstance(v, str) else f'{v}px'}" for k, v in (("width", width),
                                                                                   ("height", height)) if v)
    if style:  # the size the user asked for, instead of graphviz's points
        svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', f'<svg style="{style}"', svg, count=1)
    return svg


class _Store:
    """Each object opens the store when it needs it (a notebook lives longer than a connection should)."""

    store_uri: str | None = None

    def _open(self) -> Store:
        return open_store(self.store_uri)


class Trial(_Store):
    """A trial (`kg run`, `%kg_run`) or a run (in-code capture), shown as its graph.

    ``Trial()`` is the latest; ``Trial(3)``, ``Trial("01a2…")`` (a prefix) name one.
    Drawing options, as keyword arguments or attributes: ``width``/``height`` (CSS size: 800
    or "100%"), ``depth`` (fold calls nested deeper), ``kinds`` ("File,FileVersion": only these),
    ``values`` (draw argument and return values), ``all`` (every record: no readable view),
    ``rankdir`` ("BT", "LR"...). The default is the readable view of `kg export -F dot`.
    """

    kind = "Trial"

    def __init__(self, ref: Any = None, *, store: str | None = None, **options: Any) -> None:
        self.store_uri = store
        with self._open() as s:
            self.node = self._resolve(s, ref)
        self.id: str = self.node.id
        self.seq = self.node.props.get("seq")
        self.name = self.node.props.get("name")
        self.status = self.node.props.get("status")
        self.width: Any = options.pop("width", None)
        self.height: Any = options.pop("height", None)
        self.options: dict[str, Any] = options

    def _resolve(self, s: Store, ref: Any) -> Node:
        if ref is None:
            runs = [r for r in s.runs() if self.kind is None or r.kind == self.kind]
            if not runs:
                raise NotFound(f"no {self.kind.lower() if self.kind else 'run'} in {s.uri}")
            return runs[-1]
        return s.resolve_run(ref)

    @property
    def props(self) -> dict[str, Any]:
        return dict(self.node.props)

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.seq} "{self.name}" {self.status} [{self.id}]>'

    def _records(self) -> tuple[list[Node], list[Edge]]:
        from kg.export._common import select_records

        with self._open() as s:
            nodes, edges = select_records(s, [self.id])
            return list(nodes), list(edges)

    def dot(self) -> str:
        """The Graphviz text of the drawing."""
        from kg.export.dot import write_dot

        nodes, edges = self._records()
        buf = io.StringIO()
        write_dot(nodes, edges, buf, **{k: v for k, v in self.options.items() if v is not None})
        return buf.getvalue()

    def _repr_svg_(self) -> str:
        return _svg(self.dot(), self.width, self.height)

    # -- queries -------------------------------------------------------------------------
    def query(self, goal: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Solutions of a Prolog ``goal`` over this trial's facts and the rules (`kg prolog`)."""
        from kg.export.swipl import run_prolog

        nodes, edges = self._records()
        yield from run_prolog(nodes, edges, goal, limit=limit).rows

    def sparql(self, query: str, **params: str) -> Any:
        """A SPARQL query (a name from `kg sparql --list`, a file or the text) over this trial's RDF,
        as ``kg.connect().sparql`` answers it (rows for SELECT); ``params`` bind ?NAME to the node
        with that id (`-p NAME=ID`)."""
        from kg.api import connect

        with connect(self.store_uri) as g:
            return g.sparql(query, runs=self.id, **params)

    def cypher(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a Cypher query on the Neo4j store (``$run`` is this trial's id)."""
        with self._open() as s:
            run = getattr(s, "cypher", None)
            if run is None:
                raise ConfigError(f"Cypher needs a Neo4j store (KG_STORE=bolt://…); this one is {s.uri}")
            return list(run(query, {"run": self.id, **params}))

    # -- to the usual libraries ----------------------------------------------------------
    def to_networkx(self) -> Any:
        """The trial's PROV as a networkx.MultiDiGraph (node attributes: cls, kind and props;
        edge key: the relation)."""
        from kg.api._records import prov_graph

        return prov_graph(*self._records())

    def to_pandas(self, what: str = "activations") -> Any:
        """A DataFrame of the trial's ``activations`` (tasks and function calls) or ``files``
        (its file accesses, in order)."""
        from kg.api._records import pandas_module

        pd = pandas_module()
        nodes, _ = self._records()
        if what == "files":
            rows = [dict(id=n.id, **n.props) for n in nodes if n.kind == "FileAccess"]
            return pd.DataFrame(rows).sort_values("n", ignore_index=True) if rows else pd.DataFrame()
        if what != "activations":
            raise InputError(f"to_pandas({what!r}): choose 'activations' or 'files'")
        cols = ["id", "kind", "name", "parent", "started", "ended", "duration", "status"]
        rows = [{"id": n.id, "kind": n.kind, **{c: n.props.get(c) for c in cols[2:]}}
                for n in nodes if n.cls == "Activity" and n.id != self.id and n.kind != "FileAccess"]
        return pd.DataFrame(rows, columns=cols)


class Run(Trial):
    """A run of in-code capture (``capture.Run``), or any run or trial: as :class:`Trial`."""

    kind = None  # type: ignore[assignment]


class History(_Store):
    """The evolution history of trials: each trial beside the one it is based on (a dashed edge
    when a `kg restore` made it so). Options: ``width``, ``height``, ``rankdir`` (default "BT")."""

    def __init__(self, *, store: str | None = None, width: Any = None, height: Any = None,
                 rankdir: str = "BT") -> None:
        from kg.history import evolution

        self.store_uri = store
        with self._open() as s:
            self.entries = evolution(s)
        self.width, self.height, self.rankdir = width, height, rankdir

    def __repr__(self) -> str:
        return f"<History of {len(self.entries)} trials>"

    def dot(self) -> str:
        from kg.export.dot import STYLE, dot_string

        lines = [f"digraph history {{\n  rankdir={self.rankdir};\n  node [fontname=\"Helvetica\", fontsize=10];\n"]
        for e in self.entries:
            p = e.trial.props
            label = f"{p.get('seq', '?')}: {p.get('name', '')}\n{p.get('status', '')}"
            lines.append(f"  {dot_string(e.trial.id)} [{STYLE['Activity']}, label={dot_string(label)}];\n")
        for e in self.entries:
            if e.parent:
                style = ", style=dashed, label=\"restored\"" if e.restored_from is not None else ""
                lines.append(f"  {dot_string(e.trial.id)} -> {dot_string(e.parent)} [arrowhead=none{style}];\n")
        lines.append("}\n")
        return "".join(lines)

    def _repr_svg_(self) -> str:
        return _svg(self.dot(), self.width, self.height)


class Diff(_Store):
    """What changed from trial ``a`` to trial ``b``: attributes, modules, environment, files, and
    the scripts' source. Options: ``modules``, ``environment``, ``files`` (sections shown)."""

    def __init__(self, a: Any, b: Any, *, store: str | None = None, modules: bool = True,
                 environment: bool = True, files: bool = True) -> None:
        from kg.diff import diff_trials

        self.store_uri = store
        with self._open() as s:
            ta, tb = s.resolve_run(a), s.resolve_run(b)
            self.diff = diff_trials(s, ta, tb, modules=modules, environment=environment, files=files)
            self.source = self._source_diff(s, ta, tb)

    @staticmethod
    def _source_diff(s: Store, a: Node, b: Node) -> list[str]:
        from kg import content
        from kg._trialdata import code_sha, script_entries

        def text(t: Node) -> list[str]:
            mains, _ = script_entries(s, t)
            sha = code_sha(mains[0]) if mains else None
            try:
                return content.get(sha).decode("utf-8", "replace").splitlines() if sha else []
            except Exception:  # content kept elsewhere: no source diff
                return []
        return list(difflib.unified_diff(text(a), text(b), f"trial {a.props.get('seq')}",
                                         f"trial {b.props.get('seq')}", lineterm=""))

    def __repr__(self) -> str:
        n = sum(len(c) for c in self.diff.sections().values())
        return f"<Diff {self.diff.a.props.get('seq')} -> {self.diff.b.props.get('seq')}: {n} changes>"

    def _repr_html_(self) -> str:
        d, esc = self.diff, html.escape
        out = [f"<div class='kg-diff'><h4>Trial {esc(str(d.a.props.get('seq')))} → trial "
               f"{esc(str(d.b.props.get('seq')))}</h4>"]
        for section, changes in d.sections().items():
            if not changes:
                continue
            out.append(f"<h5>{esc(section)} ({len(changes)})</h5><table><tr><th></th><th>key</th>"
                       "<th>before</th><th>after</th></tr>")
            out += [f"<tr><td>{c.mark}</td><td>{esc(c.key)}</td><td>{esc(_cell(c.old))}</td>"
                    f"<td>{esc(_cell(c.new))}</td></tr>" for c in changes]
            out.append("</table>")
        if self.source:
            out.append(f"<h5>source</h5><pre>{esc(chr(10).join(self.source))}</pre>")
        out.append("</div>")
        return "".join(out)


def _cell(v: Any) -> str:
    text = "" if v is None else str(v)
    return text if len(text) <= 120 else text[:119] + "…"


# -- magics ---------------------------------------------------------------------------------
def _kg(args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kg", *args], capture_output=True, text=True, cwd=cwd)


def _latest_trial_id() -> str | None:
    try:
        with open_store() as s:
            trials = [r for r in s.runs() if r.kind == "Trial"]
    except KGError:  # no store yet
        return None
    return trials[-1].id if trials else None


def kg_run(line: str, cell: str | None = None, namespace: dict[str, Any] | None = None) -> Trial | None:
    """``%kg_run`` / ``%%kg_run``: run a script (or the cell) as a trial and return it.

    Options are `kg run`'s; ``--interactive`` (cells only) runs the cell in ``namespace``."""
    argv = shlex.split(line)
    interactive = "--interactive" in argv
    argv = [a for a in argv if a != "--interactive"]
    if cell is None:
        if interactive:
            raise InputError("--interactive is for %%kg_run cells: a script runs in its own process")
        return _run_cli(argv)
    name = _option(argv, "--name") or f"cell-{hashlib.sha256(cell.encode()).hexdigest()[:8]}"
    cells = kg_home() / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    path = cells / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.py"
    path.write_text(cell, encoding="utf-8")
    if not interactive:
        return _run_cli([*argv, str(path)] if "--name" in argv else ["--name", name, *argv, str(path)])
    return _run_here(path, name, argv, namespace if namespace is not None else {})


def _option(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _run_cli(argv: list[str]) -> Trial | None:
    before = _latest_trial_id()
    done = _kg(["run", *argv])
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    after = _latest_trial_id()
    return Trial(after) if after is not None and after != before else None  # None: it could not start


def _run_here(path: Path, name: str, argv: list[str], namespace: dict[str, Any]) -> Trial:
    """The cell in this kernel, under the tracer, in the notebook's namespace."""
    from capture.runner import Target
    from capture.script import run_trial
    from capture.tracer import TraceOptions

    opts = TraceOptions(depth=int(_option(argv, "-d") or _option(argv, "--depth") or 0),
                        calls=_option(argv, "--calls") or "library", values=_option(argv, "--values") or "full",
                        dataflow="--dataflow" in argv)
    source = path.read_bytes()
    target = Target("script", str(path), [], str(path), os.getcwd(), source)
    with open_store() as store:
        result = run_trial(target, store=store, name=name, command=f"%%kg_run {' '.join(argv)}".strip(),
                           options=opts, namespace=namespace, tracer=_option(argv, "--tracer"),
                           bypass_modules=bool({"-b", "--bypass-modules"} & set(argv)))
    if result.outcome.error is not None and result.outcome.status == "failed":
        sys.stderr.write(result.outcome.error[2] or f"{result.outcome.error[0]}: {result.outcome.error[1]}\n")
    return Trial(result.trial_id)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kg``: registers %kg_run, %%kg_run and %kg."""
    from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

    @magics_class
    class KgMagics(Magics):  # type: ignore[misc]
        @line_cell_magic
        def kg_run(self, line: str, cell: str | None = None) -> Trial | None:
            """Capture a script (``%kg_run script.py args``) or this cell (``%%kg_run [--name N]
            [--interactive] [kg run options]``) as a trial; returns the Trial."""
            return kg_run(line, cell, self.shell.user_ns)

        @line_magic
        def kg(self, line: str) -> None:
            """Run any kg command: ``%kg list``, ``%kg show 1``."""
            done = _kg(shlex.split(line))
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)

    ipython.register_magics(KgMagics)
