"""On the shipped demo captured with `kg run`: lineage of the output file returns the input files,
through `kg lineage`, SPARQL and Prolog alike."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_kg


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    env = {"KG_HOME": str(root / "demo1" / ".kg")}
    assert run_kg("demo", "1", cwd=root, env=env).returncode == 0
    out = run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=root / "demo1", env=env)
    assert out.returncode == 0, out.stderr
    return root / "demo1"


def _env(demo: Path) -> dict[str, str]:
    return {"KG_HOME": str(demo / ".kg")}


def _output_version(demo: Path) -> str:
    doc = json.loads(run_kg("export", "1", cwd=demo, env=_env(demo)).stdout)
    return next(k[3:] for k, v in doc["entity"].items()
                if "FileVersion" in json.dumps(v.get("prov:type")) and v.get("kg:name") == "output.dat")


def _expected(demo: Path) -> set[str]:
    return {f"file:{demo / 'data1.dat'}", f"file:{demo / 'data2.dat'}"}


def test_kg_lineage_reaches_the_input_files(demo: Path) -> None:
    rows = json.loads(run_kg("lineage", _output_version(demo), "--up", "--depth", "4", "-F", "json",
                             cwd=demo, env=_env(demo)).stdout)
    versions = {r["name"] for r in rows if r["kind"] == "FileVersion"}
    assert {"data1.dat", "data2.dat"} <= versions


def test_sparql_lineage_returns_the_input_files(demo: Path) -> None:
    out = run_kg("sparql", "lineage-files", "1", "-p", f"start={_output_version(demo)}", "-F", "json",
                 cwd=demo, env=_env(demo))
    assert out.returncode == 0, out.stderr
    assert {r["file"] for r in json.loads(out.stdout)} == _expected(demo)


def test_prolog_lineage_returns_the_input_files(demo: Path, swipl: str) -> None:
    out = run_kg("prolog", f"file_lineage('{_output_version(demo)}', F)", "1", "-F", "json",
                 cwd=demo, env=_env(demo))
    assert out.returncode == 0, out.stderr
    assert {r["F"] for r in json.loads(out.stdout)} == _expected(demo)
