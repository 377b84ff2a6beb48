"""`kg run --dataflow` on stores into objects (``o.x = v``, ``d[k] = v``, augmented too) and on
writes to files by ``print(..., file=f)``, ``json.dump(x, f)`` and ``f.writelines(xs)``: each
makes a version derived from what was stored or written, and the program runs as under python."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kg.stores.sqlite import SqliteStore
from tests.trial.test_finegrained import _graph, _kg

PROG = textwrap.dedent('''
    import json
    import sys


    class Box:
        pass


    def fill(o, v):
        o.x = v
        o.x += 1
        return o


    a = 5
    d = {}
    d["k"] = a * 2
    d["k"] += a
    box = fill(Box(), d["k"])
    items = [a, 1]
    items[0] = box.x
    with open("out.txt", "w") as f:
        print(d["k"], file=f)
        print("items", *items, sep=",", file=f)
    with open("out.json", "w") as g:
        json.dump(d, g, indent=1)
    with open("lines.txt", "w") as h:
        h.writelines([str(a), "\\n"])
    with open("half.txt", "w") as p, open("other.txt", "w") as q:
        try:
            p.write(undefined)  # the file is noted, then the value fails
        except NameError:
            pass
        print(a, file=q)
    print(d, box.x, items)
    if len(sys.argv) > 1:
        with open("bad.json", "w") as bad:
            json.dump({"o": Box()}, bad)
''')


def _at(nodes: dict[str, dict], label: str) -> str:
    """The one version ``name@line``."""
    name, line = label.split("@")
    [vid] = [i for i, p in nodes.items() if p["name"] == name and p["line"] == int(line)]
    return vid


@pytest.fixture(params=["1", "0"], ids=["c", "python"])
def trial(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KG_C", request.param)  # the C recorder, and its Python reference
    (tmp_path / "prog.py").write_text(PROG)
    r = _kg(tmp_path, "run", "--dataflow", "prog.py")
    assert r.returncode == 0, r.stderr
    return tmp_path


def test_a_store_into_an_object_is_a_new_version_of_it(trial: Path) -> None:
    nodes, derived = _graph(trial)
    v = {label: _at(nodes, label) for label in ("a@16", "d@17", "d@18", "d@19", "o@10", "v@10", "o@11",
                                                 "o@12", "box@20", "items@21", "items@22")}
    expected = [("d@18", "a@16"), ("d@18", "d@17"),     # d["k"] = a * 2: from a and the d before
                ("d@19", "a@16"), ("d@19", "d@18"),     # d["k"] += a
                ("v@10", "d@19"),                       # fill(..., d["k"]): the argument came from d
                ("o@11", "v@10"), ("o@11", "o@10"),     # o.x = v
                ("o@12", "o@11"),                       # o.x += 1
                ("items@22", "box@20"), ("items@22", "items@21")]  # items[0] = box.x
    for later, earlier in expected:
        assert (v[later], v[earlier]) in derived, (later, earlier)
    # a version of an object stored into is kept as its type and size (d = {} as any value: with its repr)
    assert nodes[v["d@18"]]["value"] == {"type": "dict", "size": 1} and nodes[v["d@17"]]["value"]["repr"] == "{}"
    assert nodes[v["o@11"]]["scope"] == "fill" and nodes[v["d@18"]]["scope"] == "<module>"
    dot = _kg(trial, "dataflow", "1", "--variable", "d").stdout
    assert 'label="d@18\\ndict, size 1"' in dot and 'label="a@16\\n5"' in dot


def _written(trial: Path) -> dict[str, set[str]]:
    """File name -> the versions written to it."""
    store = SqliteStore(trial / ".kg" / "kg.db", create=False)
    try:
        out: dict[str, set[str]] = {}
        for e in store.find_edges(rel="WAS_DERIVED_FROM"):
            if e.src.startswith("fv:"):
                out.setdefault(os.path.basename(store.get_node(e.src).props["path"]), set()).add(e.dst)
    finally:
        store.close()
    return out


def test_print_json_dump_and_writelines_derive_the_file_from_the_value(trial: Path) -> None:
    nodes, derived = _graph(trial)
    v = {label: _at(nodes, label) for label in ("a@16", "d@19", "items@22", "f.print@24", "f.print@25",
                                                 "g.json.dump@27", "h.writelines@29", "q.print@35")}
    assert _written(trial) == {"out.txt": {v["f.print@24"], v["f.print@25"]}, "out.json": {v["g.json.dump@27"]},
                               "lines.txt": {v["h.writelines@29"]}, "other.txt": {v["q.print@35"]}}
    for later, earlier in [("f.print@24", "d@19"), ("f.print@25", "items@22"), ("g.json.dump@27", "d@19"),
                           ("h.writelines@29", "a@16"), ("q.print@35", "a@16")]:
        assert (v[later], v[earlier]) in derived, (later, earlier)
    assert nodes[v["f.print@24"]]["value"] == 15 and nodes[v["f.print@25"]]["value"]["repr"] == "('items', 16, 1)"
    out_json = next(e for e in _kg(trial, "lineage", v["g.json.dump@27"], "--down", "--depth", "1").stdout.split()
                    if e.startswith("fv:"))
    up = _kg(trial, "lineage", out_json, "--up", "--depth", "8")
    assert up.returncode == 0 and v["a@16"] in up.stdout  # out.json <- dump <- d <- d <- a


def test_the_program_runs_as_under_python(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROG)
    plain = subprocess.run([sys.executable, "prog.py", "boom"], cwd=tmp_path, capture_output=True, text=True)
    files = {n: (tmp_path / n).read_text() for n in ("out.txt", "out.json", "lines.txt", "other.txt")}
    flow = _kg(tmp_path, "run", "--dataflow", "prog.py", "boom")
    assert (flow.returncode, flow.stdout) == (plain.returncode, plain.stdout) == (1, "{'k': 15} 16 [16, 1]\n")
    assert {n: (tmp_path / n).read_text() for n in files} == files
    assert files["out.txt"] == "15\nitems,16,1\n"

    def user_lines(err: str) -> list[str]:  # the traceback's lines in prog.py, and the error
        lines = err.splitlines()
        return [ln for i, ln in enumerate(lines) if 'prog.py"' in ln or i and 'prog.py"' in lines[i - 1]] + lines[-1:]

    assert user_lines(flow.stderr) == user_lines(plain.stderr)
    assert "TypeError: Object of type Box is not JSON serializable" in flow.stderr
