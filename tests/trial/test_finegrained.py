"""`kg run --dataflow`: variable-level provenance of the script, as PROV in the graph, drawn by
`kg dataflow`, followed by `kg lineage`; the program itself unchanged."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kg.stores.sqlite import SqliteStore

PROG = textwrap.dedent('''
    import sys

    def double(v):
        """Twice v."""
        return v * 2

    def add_one(w):
        return w + 1

    a = 3
    b = double(a)
    c = add_one(b)
    with open("out.txt", "w") as f:
        f.write(str(c))
    total = 0
    for i in range(3):
        total += i * c
    x, (y, z) = total, (a, b)
    print(c, total, x, y, z)
    if len(sys.argv) > 1:
        raise ValueError(f"bad {c}")

    def outer(p):
        def inner(q):
            return q + 1
        r = inner(p)
        return r

    o = outer(c)
''')


def _kg(d: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KG_HOME": str(d / ".kg")}
    return subprocess.run([sys.executable, "-m", "kg", *args], cwd=d, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture()
def trial(tmp_path: Path) -> Path:
    (tmp_path / "prog.py").write_text(PROG)
    r = _kg(tmp_path, "run", "--dataflow", "prog.py")
    assert r.returncode == 0, r.stderr
    return tmp_path


def _graph(d: Path) -> tuple[dict[str, dict], set[tuple[str, str]]]:
    """The Variable entities and the WAS_DERIVED_FROM between them, as the trial's PROV (what exports see)."""
    store = SqliteStore(d / ".kg" / "kg.db", create=False)
    try:
        runs = [t.id for t in store.find_nodes(kind="Trial")]
        all_nodes, all_edges = store.run_records(runs)
        nodes = {n.id: n.props for n in all_nodes if n.kind == "Variable"}
        derived = {(e.src, e.dst) for e in all_edges if e.rel == "WAS_DERIVED_FROM" and e.src in nodes}
    finally:
        store.close()
    return nodes, derived


def _named(nodes: dict[str, dict], scope: str, name: str) -> list[str]:
    return [i for i, p in nodes.items() if p["scope"] == scope and p["name"] == name]


def test_the_derivation_chain_is_in_the_graph(trial: Path) -> None:
    nodes, derived = _graph(trial)
    [a], [b], [c] = (_named(nodes, "<module>", n) for n in "abc")
    [v], [w] = _named(nodes, "double", "v"), _named(nodes, "add_one", "w")
    [r1], [r2] = _named(nodes, "double", "return"), _named(nodes, "add_one", "return")
    # a -> v (argument) -> return of double -> b -> w -> return of add_one -> c
    for later, earlier in [(v, a), (r1, v), (b, r1), (b, a), (w, b), (r2, w), (c, r2), (c, b)]:
        assert (later, earlier) in derived, (nodes[later], nodes[earlier])
    assert (nodes[a]["value"], nodes[b]["value"], nodes[c]["value"]) == (3, 6, 7)
    assert (nodes[a]["line"], nodes[b]["line"], nodes[c]["line"]) == (11, 12, 13)
    totals = sorted((p for p in nodes.values() if p["name"] == "total"), key=lambda p: p.get("iteration") or 0)
    assert [p["value"] for p in totals] == [0, 0, 7, 21]  # the first assignment, then one per iteration
    assert {p["name"] for p in nodes.values()} >= {"i", "f", "x", "y", "z"}  # loop, with, unpacking
    # a nested function's return flows back into its caller's variable
    [r], [inner_return] = _named(nodes, "outer", "r"), _named(nodes, "outer.inner", "return")
    assert (r, inner_return) in derived


def test_kg_dataflow_draws_it(trial: Path) -> None:
    if shutil.which("dot") is None:
        pytest.fail("graphviz dot is not installed (scripts/setup installs it)")
    r = _kg(trial, "dataflow", "1", "--variable", "c")
    assert r.returncode == 0, r.stderr
    svg = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True, text=True, check=True).stdout
    for label in ("c@13", "b@12", "a@11", "v@4", "w@8"):
        assert label in svg, label
    assert "total@" not in svg  # --variable keeps c's ancestry only
    files = _kg(trial, "dataflow", "1", "-m", "files")
    assert files.returncode == 0 and "out.txt" in files.stdout and "@13" not in files.stdout


def test_kg_lineage_goes_up_from_c_to_a(trial: Path) -> None:
    nodes, _ = _graph(trial)
    [a], [c] = _named(nodes, "<module>", "a"), _named(nodes, "<module>", "c")
    r = _kg(trial, "lineage", c, "--up", "--depth", "6")
    assert r.returncode == 0, r.stderr
    assert a in r.stdout


def test_the_program_is_unchanged_and_it_is_off_by_default(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROG)
    plain = subprocess.run([sys.executable, "prog.py", "boom"], cwd=tmp_path, capture_output=True, text=True)
    flow = _kg(tmp_path, "run", "--dataflow", "prog.py", "boom")
    assert (flow.returncode, flow.stdout) == (plain.returncode, plain.stdout) == (1, "7 21 21 3 6\n")
    # the traceback points at the user's line, as under python
    assert 'prog.py", line 22' in plain.stderr and 'prog.py", line 22' in flow.stderr
    assert "ValueError: bad 7" in flow.stderr
    off = _kg(tmp_path, "run", "prog.py")
    assert off.returncode == 0, off.stderr
    store = SqliteStore(tmp_path / ".kg" / "kg.db", create=False)
    try:
        by_trial = {}
        for n in store.find_nodes(kind="Variable"):
            by_trial[n.props["run"]] = by_trial.get(n.props["run"], 0) + 1
        trials = {n.props.get("seq"): n.id for n in store.find_nodes(kind="Trial")}
    finally:
        store.close()
    assert by_trial.get(trials[1], 0) > 10 and trials[2] not in by_trial
    missing = _kg(tmp_path, "dataflow", "2", "-m", "variables")
    assert missing.returncode == 1 and "kg run --dataflow" in missing.stderr


def test_the_written_file_derives_from_the_value_and_lineage_reaches_a(trial: Path) -> None:
    nodes, _ = _graph(trial)
    [a], [c] = _named(nodes, "<module>", "a"), _named(nodes, "<module>", "c")
    [written] = _named(nodes, "<module>", "f.write")
    store = SqliteStore(trial / ".kg" / "kg.db", create=False)
    try:
        [fv] = [e.src for e in store.find_edges(rel="WAS_DERIVED_FROM") if e.dst == written]
        version = store.get_node(fv)
    finally:
        store.close()
    assert version is not None and version.props["path"].endswith("out.txt") and nodes[written]["value"] == "7"
    r = _kg(trial, "lineage", fv, "--up", "--depth", "12")
    assert r.returncode == 0, r.stderr
    for vid in (written, c, a):  # out.txt <- "7" written <- c <- ... <- a
        assert vid in r.stdout, vid
    dot = _kg(trial, "dataflow", "1")
    assert 'label="out.txt' in dot.stdout and "[label=written]" in dot.stdout


def test_each_version_was_generated_by_its_function_activation(trial: Path) -> None:
    nodes, _ = _graph(trial)
    store = SqliteStore(trial / ".kg" / "kg.db", create=False)
    try:
        acts = {n.id: n.props["name"] for n in store.find_nodes(kind="Activation")}
        generated = {(e.src, acts.get(e.dst)) for e in store.run_records([nodes[next(iter(nodes))]["run"]])[1]
                     if e.rel == "WAS_GENERATED_BY" and e.src in nodes}
    finally:
        store.close()
    [v], [q], [a] = _named(nodes, "double", "v"), _named(nodes, "outer.inner", "q"), _named(nodes, "<module>", "a")
    assert {(v, "double"), (q, "outer.<locals>.inner"), (a, "__main__")} <= generated
    r = _kg(trial, "lineage", v, "--up", "--depth", "1")
    assert "Activation" in r.stdout and "double" in r.stdout


NAMES = textwrap.dedent('''
    def f(x):
        y = x + 1
        return sorted(locals())

    z = f(1)
    print(z, sorted(dir()), sorted(globals()))
''')


def test_the_program_sees_no_names_of_ours(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(NAMES)
    # (beside `kg run` without --dataflow: under plain python 3.11 __main__ also has __annotations__)
    plain = _kg(tmp_path, "run", "prog.py")
    flow = _kg(tmp_path, "run", "--dataflow", "prog.py")
    assert flow.returncode == plain.returncode == 0, flow.stderr
    assert flow.stdout == plain.stdout and plain.stdout.startswith("['x', 'y'] ") and "kg" not in plain.stdout


def test_the_c_and_python_recorders_record_the_same(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROG)

    def versions(native: str) -> list[tuple]:
        d = tmp_path / native
        d.mkdir()
        shutil.copy(tmp_path / "prog.py", d / "prog.py")
        env = {**os.environ, "KG_HOME": str(d / ".kg"), "KG_C": native}
        r = subprocess.run([sys.executable, "-m", "kg", "run", "--dataflow", "prog.py"], cwd=d, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        nodes, derived = _graph(d)
        store = SqliteStore(d / ".kg" / "kg.db", create=False)
        try:
            acts = {n.id: n.props["name"] for n in store.find_nodes(kind="Activation")}
        finally:
            store.close()
        n_of = {i: int(i.rsplit("/", 1)[1]) for i in nodes}
        return sorted((n_of[i], p["name"], p["scope"], p["line"], p["col"], repr(p["value"]), p.get("iteration"),
                       acts.get(p["generated_by"]), sorted(n_of[s] for v, s in derived if v == i))
                      for i, p in nodes.items())

    c, py = versions("1"), versions("0")
    assert c == py and len(c) > 20


def _svg(dot_text: str) -> str:
    if shutil.which("dot") is None:
        pytest.fail("graphviz dot is not installed (scripts/setup installs it)")
    return subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True, check=True).stdout


def test_the_prospective_view_draws_the_definitions(trial: Path) -> None:
    r = _kg(trial, "dataflow", "1", "-m", "prospective")
    assert r.returncode == 0, r.stderr
    svg = _svg(r.stdout)
    for label in ("double(v)", "add_one(w)", "outer(p)", "inner(q)", "v@4", "return@6", "w@8", "a@11", "b@12",
                  "c@13", "total@16,18", "calls"):
        assert label in svg, label
    # the static flows: a is passed as double's v, double's return is assigned to b
    ids = {label: i for i, label in re.findall(r'"(\d+)" \[label="([^"]+)"\]', r.stdout)}
    for src, dst in (("a@11", "v@4"), ("v@4", "return@6"), ("return@6", "b@12"), ("b@12", "w@8")):
        assert f'"{ids[src]}" -> "{ids[dst]}"' in r.stdout, (src, dst)
    assert '"def <module>" -> "def double"' in r.stdout and '"def outer" -> "def outer.inner"' in r.stdout


def test_dataflow_of_the_demo_reaches_from_the_output_file_to_the_input_name(tmp_path: Path) -> None:
    assert _kg(tmp_path, "demo", "1", "-d", "demo").returncode == 0
    d = tmp_path / "demo"
    args = ["simulation.py", "data1.dat", "data2.dat"]
    plain = subprocess.run([sys.executable, *args], cwd=d, capture_output=True, text=True)
    expected = (d / "output.dat").read_text()
    r = _kg(d, "run", "--dataflow", *args)
    assert (r.returncode, r.stdout) == (plain.returncode, plain.stdout) and (d / "output.dat").read_text() == expected
    nodes, _ = _graph(d)
    [data_a] = _named(nodes, "<module>", "data_a")
    store = SqliteStore(d / ".kg" / "kg.db", create=False)
    try:
        written = {e.src for e in store.find_edges(rel="WAS_DERIVED_FROM") if e.src.startswith("fv:")}
        [output] = [v for v in written if store.get_node(v).props["path"].endswith("output.dat")]
    finally:
        store.close()
    up = _kg(d, "lineage", output, "--up", "--depth", "14")
    assert up.returncode == 0 and data_a in up.stdout, up.stdout[-2000:]
    assert "run_simulation" in _svg(_kg(d, "dataflow", "1").stdout)
    assert "run_simulation(data_a, data_b)" in _svg(_kg(d, "dataflow", "1", "-m", "prospective").stdout)


def test_kg_dataflow_filters_by_function_and_hides_values(trial: Path) -> None:
    r = _kg(trial, "dataflow", "1", "--scope", "double", "-l", "0")
    assert r.returncode == 0, r.stderr
    svg = _svg(r.stdout)
    assert "v@4" in svg and "return@6" in svg and "a@11" not in svg and "w@8" not in svg
    assert "\\n" not in r.stdout.split("subgraph", 1)[1].split("}", 1)[0]  # labels without values


def test_an_exported_trial_keeps_its_dataflow_when_loaded_elsewhere(trial: Path, tmp_path: Path) -> None:
    nodes, derived = _graph(trial)
    [a], [c] = _named(nodes, "<module>", "a"), _named(nodes, "<module>", "c")
    r = _kg(trial, "export", "1", "-F", "provjson", "-o", str(tmp_path / "t.json"))
    assert r.returncode == 0, r.stderr
    other = tmp_path / "other"
    other.mkdir()
    assert _kg(other, "load", str(tmp_path / "t.json")).returncode == 0
    loaded_nodes, loaded = _graph(other)
    assert set(loaded_nodes) == set(nodes) and loaded == derived  # as real edges now
    up = _kg(other, "lineage", c, "--up", "--depth", "6")
    assert a in up.stdout
    assert "a@11" in _kg(other, "dataflow", "1", "--variable", "c").stdout


@pytest.mark.parametrize("native", ["1", "0"])
def test_kg_lineage_goes_down_from_a_to_the_written_file(trial: Path, native: str) -> None:
    nodes, _ = _graph(trial)
    [a], [c], [written] = (_named(nodes, "<module>", n) for n in ("a", "c", "f.write"))
    env = {**os.environ, "KG_HOME": str(trial / ".kg"), "KG_C": native}
    r = subprocess.run([sys.executable, "-m", "kg", "lineage", a, "--down", "--depth", "8"], cwd=trial, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for vid in (c, written):
        assert vid in r.stdout, vid
    assert "out.txt" in r.stdout and "total" in r.stdout  # the file version; a's other dependents
