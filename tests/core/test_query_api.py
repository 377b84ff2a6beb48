"""kg.connect(): runs, tasks, lineage and queries from Python give what the real `kg` CLI prints,
on the embedded store and on Neo4j; capture.read_offline reads a JSONL capture without a store.

The data is captured for real, once per store: a capture.Run with tasks passing values (in a
subprocess, as a user's program runs) and a `kg run` of a script that reads and writes files."""
from __future__ import annotations

import json
import re
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import capture
import kg
from kg.api import KnowledgeGraph, Lineage, Record, RecordList, Rows
from kg.cli._options import fmt_duration, fmt_time
from kg.exceptions import ConfigError, InputError, NotFound, QueryError
from tests.conftest import run_kg

PIPELINE = '''\
import sys
import capture

@capture.task(output_names="y")
def double(x):
    return 2 * x

@capture.task(output_names=["s", "p"])
def both(a, b):
    return a + b, a * b

@capture.task(output_names="z")
def outer(n):
    return double(n) + 1

@capture.task
def fail(x):
    raise ValueError("bad x")

token = sys.argv[1]
with capture.Run(name="api-demo-" + token, tags=["api", token]):
    y = double(21)
    both(y, 3)
    outer(5)
    try:
        fail(1)
    except ValueError:
        pass
'''

JOB = '''\
def load(path):
    with open(path) as f:
        return f.read()

def transform(text, k):
    return text.upper() * k

def main():
    out = transform(load("input.txt"), 2)
    with open("output.txt", "w") as f:
        f.write(out)
    return len(out)

main()
'''


@dataclass
class Captured:
    """One store holding a pipeline run and a `kg run` trial, and how to reach it."""

    uri: str
    env: dict[str, str]
    dir: Path
    run_id: str
    trial_id: str

    def kg(self, *args: str) -> str:
        r = run_kg(*args, cwd=self.dir, env=self.env)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def connect(self) -> KnowledgeGraph:
        return kg.connect(self.uri)


def _python(script: str, cwd: Path, env: dict[str, str], *args: str) -> None:
    import os

    r = subprocess.run([sys.executable, script, *args], cwd=cwd, env={**os.environ, **env},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module", params=["sqlite", "neo4j"])
def data(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    where = tmp_path_factory.mktemp(f"api-{request.param}")
    uri = str(where / "kg.db") if request.param == "sqlite" else request.getfixturevalue("neo4j_uri")
    env = {"KG_HOME": str(where / ".kg"), "KG_STORE": uri}
    token = secrets.token_hex(4)
    (where / "pipeline.py").write_text(PIPELINE)
    (where / "job.py").write_text(JOB)
    (where / "input.txt").write_text("hello\n")
    _python("pipeline.py", where, env, token)
    r = run_kg("run", "job.py", cwd=where, env=env)
    assert r.returncode == 0, r.stderr
    # Into Neo4j the captures write behind (kg.outbox): a kg command of the capturing home reads
    # its own writes (it sends what is pending first); this process has another KG_HOME.
    r = run_kg("list", cwd=where, env=env)
    assert r.returncode == 0 and "job.py" in r.stdout, r.stdout + r.stderr
    with kg.connect(uri) as g:
        run_id = g.runs(tags=token).ids()
        trial_id = g.runs(kind="Trial", cwd=str(where)).ids()
    assert len(run_id) == 1 and len(trial_id) == 1
    yield Captured(uri, env, where, run_id[0], trial_id[0])
    if request.param == "neo4j":  # a shared server: remove what this module wrote
        from kg.stores.neo4j import Neo4jStore

        s = Neo4jStore(uri)
        try:
            s.cypher("MATCH (n:KG) WHERE n.id IN $ids OR n.run IN $ids OR n.path STARTS WITH $dir "
                     "DETACH DELETE n", {"ids": [run_id[0], trial_id[0]], "dir": str(where)}, write=True)
        finally:
            s.close()


def _ours(data: Captured, records: list[Record] | list[dict]) -> list:
    ids = (data.run_id, data.trial_id)
    return [r for r in records if (r.id if isinstance(r, Record) else r["id"]) in ids]


# -- runs ------------------------------------------------------------------------------
def test_runs_are_what_kg_list_prints(data: Captured) -> None:
    listed = _ours(data, json.loads(data.kg("list", "-F", "json")))
    with data.connect() as g:
        runs = _ours(data, g.runs())
    assert [r.id for r in runs] == [row["id"] for row in listed] == [data.run_id, data.trial_id]
    for r, row in zip(runs, listed):
        assert (r.seq, r.kind.lower(), r.name, r.status) == (row["#"], row["kind"], row["name"], row["status"])
        assert (fmt_time(r.started), fmt_duration(r.duration)) == (row["start"], row["duration"])


def test_runs_filters(data: Captured) -> None:
    with data.connect() as g:
        run = g.run(data.run_id)
        token = run.props["tags"][1]
        assert g.runs(tags=[token, "api"]).ids() == [data.run_id]
        assert g.runs(tags=[token, "not-a-tag"]) == []
        assert data.trial_id in g.runs(kind="trial").ids() and data.run_id not in g.runs(kind="trial").ids()
        assert g.runs(name=f"api-demo-{token}").ids() == [data.run_id]
        assert g.runs(name="api-demo-*", tags=token).ids() == [data.run_id]
        assert data.run_id in g.runs(status="FINISHED").ids()
        assert data.run_id not in g.runs(status="failed").ids()
        started = datetime.fromtimestamp(run.started, timezone.utc)
        assert data.run_id in g.runs(since=started - timedelta(seconds=1), until=run.started + 1).ids()
        assert data.run_id not in g.runs(since=started + timedelta(minutes=1)).ids()
        assert data.run_id not in g.runs(until=(started - timedelta(minutes=1)).isoformat()).ids()
        with pytest.raises(InputError, match="since"):
            g.runs(since="last tuesday")


def test_run_resolves_like_kg_show(data: Captured) -> None:
    with data.connect() as g:
        run = g.run(data.run_id)
        assert g.run(run.seq) == g.run(str(run.seq)) == g.run(run) == run
        ids = g.runs().ids()
        prefix = next(data.run_id[:n] for n in range(4, 37) if sum(i.startswith(data.run_id[:n]) for i in ids) == 1)
        assert g.run(prefix).id == data.run_id
        with pytest.raises(NotFound):
            g.run("no-such-run")
    header = data.kg("show", str(run.seq)).splitlines()[0]
    assert header == f"Run {run.seq}: {run.name}  [{run.id}]"


# -- tasks -----------------------------------------------------------------------------
_TREE_LINE = re.compile(r"^  (?P<pad>(?:  )*)(?P<mark>[•✗]) (?P<name>[^(]+)\(")


def _show_tree(data: Captured, seq: int) -> list[tuple[int, str, str]]:
    """(depth, name, status) of each task line of `kg show SEQ --limit 0`."""
    out = []
    for line in data.kg("show", str(seq), "--limit", "0").splitlines():
        m = _TREE_LINE.match(line)
        if m:
            status = line.rsplit("  ", 1)[1].split()[0]
            out.append((len(m["pad"]) // 2, m["name"], status))
    return out


def test_tasks_are_kg_shows_tree(data: Captured) -> None:
    with data.connect() as g:
        run = g.run(data.run_id)
        tasks = g.tasks(run)
    assert [(t.depth, t.name, t.status) for t in tasks] == _show_tree(data, run.seq)
    assert [(t.depth, t.name) for t in tasks] == [(0, "double"), (0, "both"), (0, "outer"), (1, "double"),
                                                  (0, "fail")]
    by_name = {t.name: t for t in tasks if t.depth == 0}
    double, both = by_name["double"], by_name["both"]
    assert (double.used, double.generated) == ({"x": 21}, {"y": 42})
    assert (both.used, both.generated) == ({"a": 42, "b": 3}, {"s": 45, "p": 126})
    assert both.sources == {"a": f"{double.id}/out/y"}  # 42 is double's output, not a new value
    assert tasks[3].parent == by_name["outer"].id and tasks[3].generated == {"y": 10}
    assert (by_name["fail"].status, by_name["fail"].props["error_type"]) == ("ERROR", "ValueError")
    assert all(t.run == run.id and t.kind == "Task" for t in tasks)
    with data.connect() as g:
        assert [t.name for t in g.tasks(run.seq, status="error")] == ["fail"]
        assert [t.depth for t in g.tasks(run.id, name="double")] == [0, 1]
        assert g.tasks(run, max_depth=0).ids() == [t.id for t in tasks if t.depth == 0]


def test_sqlite_tasks_come_from_segments(data: Captured) -> None:
    """The embedded store packs tasks into segments: the API still gives whole records."""
    if not data.uri.endswith(".db"):
        pytest.skip("segments are the embedded store's")
    with sqlite3.connect(data.uri) as db:
        (count,) = db.execute("SELECT count(*) FROM segs WHERE run = ?", (data.run_id,)).fetchone()
    assert count >= 1
    with data.connect() as g:
        assert {t.name for t in g.tasks(data.run_id)} == {"double", "both", "outer", "fail"}


_ACT_LINE = re.compile(r"^    (?P<pad>(?:  )*)(?P<line>\w+): (?P<name>\S+)(?: \[\w+\])? \(")


def test_trial_activations_are_kg_show_a(data: Captured) -> None:
    with data.connect() as g:
        trial = g.run(data.trial_id)
        acts = g.tasks(trial, kind="Activation")
    shown = [(len(m["pad"]) // 2, m["name"]) for line in data.kg("show", str(trial.seq), "-a", "--limit", "0")
             .splitlines() if (m := _ACT_LINE.match(line))]
    assert [(a.depth, a.name) for a in acts] == shown
    named = {a.name: a for a in acts}
    assert named["transform"].used == {"text": "hello\n", "k": 2}
    assert named["transform"].generated == {"return": "HELLO\nHELLO\n"}
    assert named["main"].generated == {"return": 12}
    assert named["load"].parent == named["main"].id


# -- tables ----------------------------------------------------------------------------
def test_to_pandas_is_the_shown_table(data: Captured) -> None:
    pd = pytest.importorskip("pandas")
    with data.connect() as g:
        run = g.run(data.run_id)
        tasks = g.tasks(run)
        df = tasks.to_pandas()
        runs = g.runs().to_pandas()
    assert list(df.columns[:8]) == ["id", "kind", "name", "status", "started", "ended", "duration", "depth"]
    assert {"used", "generated", "parent", "run"} <= set(df.columns)
    assert list(zip(df.depth, df.name, df.status)) == _show_tree(data, run.seq)
    shown = [line.rsplit(" ", 1)[1] for line in data.kg("show", str(run.seq)).splitlines()
             if _TREE_LINE.match(line)]
    assert [fmt_duration(d) for d in df.duration] == shown
    assert str(df.started.dt.tz) == "UTC"
    assert abs(df.started.iloc[0] - pd.Timestamp(tasks[0].started, unit="s", tz="UTC")) < pd.Timedelta("1ms")
    assert list(df.id) == tasks.ids()
    assert df.used.iloc[0] == {"x": 21} and df.generated.iloc[1] == {"s": 45, "p": 126}
    listed = json.loads(data.kg("list", "-F", "json"))
    assert list(runs.id) == [row["id"] for row in listed if row["id"] in set(runs.id)]
    assert runs.set_index("id").loc[data.run_id, "seq"] == run.seq


def test_query_rows_to_pandas(data: Captured) -> None:
    pytest.importorskip("pandas")
    rows = Rows([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], columns=["b", "a"])
    df = rows.to_pandas()
    assert list(df.columns) == ["b", "a"] and list(df.a) == [1, 2]
    assert Rows().to_pandas().empty


# -- lineage ---------------------------------------------------------------------------
def _cli_lineage(data: Captured, node: str, up: bool, depth: int = 10) -> list[dict]:
    return json.loads(data.kg("lineage", node, "--up" if up else "--down", "--depth", str(depth), "-F", "json"))


def test_lineage_of_a_task_output(data: Captured) -> None:
    with data.connect() as g:
        tasks = g.tasks(data.run_id)
        double, both = tasks[0], tasks[1]
        s = f"{both.id}/out/s"
        up = g.lineage(s)
        down = g.lineage(f"{double.id}/out/y", up=False)
    assert up.rows() == _cli_lineage(data, s, up=True)
    assert down.rows() == _cli_lineage(data, f"{double.id}/out/y", up=False)
    # s = a + b, and a was double's y, made from x = 21
    assert {both.id, f"{both.id}/in/b", f"{double.id}/out/y", double.id, f"{double.id}/in/x"} <= \
        {n.id for n in up.nodes}
    assert f"{double.id}/out/y" in down and down.nodes[0].kind == "Value"
    assert up.start.id == s and up.nodes.by_id()[s].depth == 0 and up.direction == "up"
    assert up.nodes.by_id()[f"{double.id}/in/x"].props["value"] == 21


def test_downstream_of_a_task_output_reaches_the_task_that_used_it(data: Captured) -> None:
    # In the embedded store the task is kept in a segment: its USED edge to the other task's output
    # is stored beside the segment, so a lookup from the output finds it.
    with data.connect() as g:
        double, both = g.tasks(data.run_id)[:2]
        down = g.lineage(f"{double.id}/out/y", up=False)
    assert both.id in down and f"{both.id}/out/s" in down and f"{both.id}/out/p" in down
    assert down.nodes.by_id()[both.id].depth == 1


def test_lineage_of_a_file_version(data: Captured) -> None:
    with data.connect() as g:
        acts = g.tasks(data.trial_id, kind="Activation").by_id()
        versions = {n.props["path"]: n.id for n in g.store.find_nodes(kind="FileVersion")
                    if str(n.props.get("path", "")).startswith(str(data.dir))}
        written, read = versions[str(data.dir / "output.txt")], versions[str(data.dir / "input.txt")]
        made_by = g.lineage(written, up=True, depth=3)
        used_by = g.lineage(read, up=False, depth=3)
    assert made_by.rows() == _cli_lineage(data, written, up=True, depth=3)
    assert used_by.rows() == _cli_lineage(data, read, up=False, depth=3)
    assert "main" in {acts[n.id].name for n in made_by.nodes if n.id in acts}  # main() wrote output.txt
    assert "load" in {acts[n.id].name for n in used_by.nodes if n.id in acts}  # load() read input.txt
    assert isinstance(made_by, Lineage) and made_by.start.kind == "FileVersion"


def test_to_networkx_is_the_lineage(data: Captured) -> None:
    import networkx as nx

    with data.connect() as g:
        tasks = g.tasks(data.run_id)
        lin = g.lineage(f"{tasks[1].id}/out/s", up=True)
    G = lin.to_networkx()
    assert isinstance(G, nx.MultiDiGraph)
    assert set(G.nodes) == {n.id for n in lin.nodes}
    assert sorted((s, d, k) for s, d, k in G.edges(keys=True)) == sorted((e.src, e.dst, e.rel) for e in lin.edges)
    for n in lin.nodes:
        assert (G.nodes[n.id]["kind"], G.nodes[n.id]["depth"]) == (n.kind, n.depth)
    both = tasks[1]
    assert G.has_edge(both.id, f"{tasks[0].id}/out/y", key="USED")
    assert G.edges[both.id, f"{tasks[0].id}/out/y", "USED"]["role"] == "a"
    assert G.nodes[f"{tasks[0].id}/in/x"]["value"] == 21 and G.nodes[tasks[0].id]["name"] == "double"
    assert G.graph == {"start": lin.start.id, "direction": "up"}


# -- queries ---------------------------------------------------------------------------
def test_sparql_named_query_is_kg_sparql(data: Captured) -> None:
    with data.connect() as g:
        trial = g.run(data.trial_id)
        rows = g.sparql("run-files", runs=trial.seq, run=trial.id)
        tree = g.sparql("activation-tree", runs=[trial], run=trial)
        asked = g.sparql("ASK { ?a a <http://www.w3.org/ns/prov#Activity> }", runs=trial.id)
    cli = json.loads(data.kg("sparql", "run-files", str(trial.seq), "-p", f"run={trial.id}", "-F", "json"))
    assert isinstance(rows, Rows) and rows == cli
    assert rows.columns == ["activity", "access", "file", "version", "time"]
    assert sorted(r["access"] for r in rows) == ["read", "write"]  # input.txt read, output.txt written
    assert sorted(r["name"] for r in tree if r["name"] in ("load", "transform", "main")) == \
        ["load", "main", "transform"]
    assert asked is True


def test_cypher_named_and_ad_hoc(data: Captured) -> None:
    with data.connect() as g:
        run = g.run(data.run_id)
        if data.uri.endswith(".db"):
            with pytest.raises(QueryError, match="Neo4j"):
                g.cypher("MATCH (n) RETURN n LIMIT 1")
            return
        names = g.cypher("MATCH (t:Task {run: $run}) RETURN t.name AS name, t.status AS status "
                         "ORDER BY t.started, t.id", run=run.id)
        nodes = g.cypher("MATCH (t:Task {run: $run, name: 'both'}) RETURN t", run=run.id)
        tree = g.cypher("run-tree", run=run.seq)
        tasks = g.tasks(run)
    assert names.columns == ["name", "status"]
    assert [(r["name"], r["status"]) for r in names] == \
        [(t.name, t.status) for t in sorted(tasks, key=lambda t: (t.started, t.id))]
    (both,) = [r["t"] for r in nodes]
    assert isinstance(both, Record) and both.kind == "Task" and both.generated == {"s": 45, "p": 126}
    cli = json.loads(data.kg("query", "run-tree", "--param", f"run={run.seq}", "-F", "json"))
    assert [r["id"] for r in tree] == [r["id"] for r in cli] and len(tree) == len(tasks)
    with pytest.raises(QueryError):
        with data.connect() as g:
            g.cypher("MATCH (n RETURN n")


# -- offline capture -------------------------------------------------------------------
def test_read_offline_of_a_real_jsonl_capture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    path = tmp_path / "run.jsonl"
    _python("pipeline.py", tmp_path, {"KG_STORE": str(path)}, "offline")
    records = capture.read_offline(path)
    assert isinstance(records, RecordList)
    (run,) = records.filter(kind="Run")
    assert (run.name, run.status, run.props["tags"]) == ("api-demo-offline", "finished", ["api", "offline"])
    tasks = records.filter(kind="Task")
    assert [t.name for t in tasks] == ["double", "both", "double", "outer", "fail"]  # written when they end
    with kg.connect(str(path)) as g:  # the same file as a graph: the same tasks and values
        in_graph = g.tasks(run.id).by_id()
    assert {t.id: (t.name, t.used, t.generated, t.status) for t in tasks} == \
        {i: (t.name, t.used, t.generated, t.status) for i, t in in_graph.items()}
    monkeypatch.setenv("KG_STORE", str(path))
    assert capture.read_offline() == records
    pd = pytest.importorskip("pandas")
    df = tasks.to_pandas()
    assert list(df.name) == [t.name for t in tasks] and df.generated.iloc[0] == {"y": 42}
    assert isinstance(df, pd.DataFrame)


def test_read_offline_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "node", "id": "r", "cls": "Activity", "kind": "Run", "props": {}}\n{"type": \n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        capture.read_offline(bad)
    with pytest.raises(InputError, match="cannot read"):
        capture.read_offline(tmp_path / "missing.jsonl")
    monkeypatch.setenv("KG_STORE", str(tmp_path / "kg.db"))
    with pytest.raises(InputError, match="not a .jsonl file"):
        capture.read_offline()


# -- the module itself -----------------------------------------------------------------
def test_import_kg_stays_light_and_connect_is_lazy() -> None:
    code = ("import sys, kg, capture\n"
            "heavy = [m for m in ('pandas', 'networkx', 'neo4j', 'kg.api', 'rdflib') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert kg.connect is __import__('kg.api').api.connect and 'kg.api' in sys.modules\n"
            "assert 'pandas' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "connect" in kg.__all__ and "read_offline" in capture.__all__


def test_to_pandas_without_pandas_names_the_extra() -> None:
    code = ("import sys\nsys.modules['pandas'] = None  # as if it were not installed\n"
            "from kg.api import Record, RecordList\n"
            "from kg.exceptions import ConfigError\n"
            "try:\n    RecordList([Record('a', 'Run', 'Activity', {})]).to_pandas()\n"
            "except ConfigError as exc:\n    print(exc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "provkg[pandas]" in r.stdout
    assert issubclass(ConfigError, kg.KGError)


def test_connect_closes_only_the_store_it_opened(tmp_path: Path) -> None:
    from kg.stores.sqlite import SqliteStore

    with kg.connect(str(tmp_path / "a.db")) as g:
        assert g.runs() == []
    store = SqliteStore(tmp_path / "b.db")
    with kg.connect(store) as g:
        assert g.store is store
    assert store.runs() == []  # still open
    store.close()
