"""Every named SPARQL query gives the same rows with pyoxigraph (the default engine) and rdflib,
on a real `kg run` trial (demo 1; bench/bench_sparql.py times them on the whole trial): same rows,
same text for times."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_kg

pytest.importorskip("pyoxigraph")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("sparql-demo")
    env = {"KG_HOME": str(d / ".kg")}
    assert run_kg("demo", "1", "-d", str(d / "demo1"), cwd=d, env=env).returncode == 0
    # user calls to depth 3: the same file lineage in ~20 activities, so that rdflib answers in seconds
    out = run_kg("run", "--calls", "user", "-d", "3", "simulation.py", "data1.dat", "data2.dat",
                 cwd=d / "demo1", env=env)
    assert out.returncode == 0, out.stderr
    trial = json.loads(run_kg("list", "-F", "json", cwd=d, env=env).stdout)[0]["id"]
    files = json.loads(run_kg("sparql", "run-files", "1", "-p", f"run={trial}", "-F", "json", cwd=d, env=env).stdout)
    assert {r["access"] for r in files} == {"read", "write"}
    return d, {"KG_HOME": env["KG_HOME"], "run": trial, "start": files[-1]["version"], "source": files[0]["file"]}


def _names() -> list[str]:
    return [q["name"] for q in json.loads(run_kg("sparql", "--list", "-F", "json").stdout)]


@pytest.mark.parametrize("name", _names())
def test_both_engines_answer_alike(demo: tuple[Path, dict[str, str]], name: str) -> None:
    d, bind = demo
    env = {"KG_HOME": bind["KG_HOME"]}
    params = next(q["parameters"] for q in json.loads(run_kg("sparql", "--list", "-F", "json").stdout)
                  if q["name"] == name)
    extra = [x for p in ("run", "start", "source") if f"?{p}" in params for x in ("-p", f"{p}={bind[p]}")]
    rows = {}
    for engine in ("oxigraph", "rdflib"):
        out = run_kg("sparql", name, "1", *extra, "--engine", engine, "-F", "json", cwd=d, env=env)
        assert out.returncode == 0, out.stderr
        rows[engine] = sorted(json.dumps(r, sort_keys=True) for r in json.loads(out.stdout))
    assert rows["oxigraph"] == rows["rdflib"]
    assert rows["oxigraph"], name  # every named query answers something on the demo
