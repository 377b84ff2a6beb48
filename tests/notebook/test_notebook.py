"""A real notebook (tests/notebook/kg_notebook.ipynb) executed with nbclient and ipykernel in a
copy of demo 1: every cell succeeds and shows what the user expects (SVG graphs, trials,
a cell sharing variables with the notebook, Prolog and SPARQL answers, pandas and networkx)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_kg

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).with_name("kg_notebook.ipynb")


def _text(cell: Any) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        for key in ("text/plain", "text/html", "image/svg+xml"):
            if key in o.get("data", {}):
                out.append(o["data"][key])
    return "\n".join(out)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    d = tmp_path_factory.mktemp("nb")
    home = d / ".kg"
    assert run_kg("demo", "1", "-d", str(d / "demo1"), cwd=d, env={"KG_HOME": str(home)}).returncode == 0
    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = os.environ.get("KG_HOME")
    os.environ["KG_HOME"] = str(home)  # the kernel inherits it
    try:
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(d / "demo1")}})
        client.execute()
    finally:
        if old is None:
            os.environ.pop("KG_HOME", None)
        else:
            os.environ["KG_HOME"] = old
    (d / "executed.ipynb").write_text(nbformat.writes(nb))  # kept beside the test's data for a look
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_cell_succeeds(executed: list[Any]) -> None:
    for cell in executed:
        assert not any(o.get("output_type") == "error" for o in cell.get("outputs", [])), cell.source


def test_kg_run_captures_the_script_and_shows_its_graph(executed: list[Any]) -> None:
    svg = executed[1].outputs[-1]["data"]["image/svg+xml"]
    assert svg.startswith("<svg") and "data1.dat" in svg and "output.dat" in svg
    assert '<Trial 1 "simulation.py" finished' in _text(executed[2])


def test_an_interactive_cell_shares_the_notebooks_variables(executed: list[Any]) -> None:
    assert "sum 6" in _text(executed[4])  # the cell read `arg` from the notebook
    assert _text(executed[5]).strip() == "6"  # and the notebook reads `c` from the cell
    out = executed[4].outputs[-1]["data"]["text/plain"]
    assert '<Trial 2 "cell-sum" finished' in out


def test_history_and_diff_display(executed: list[Any]) -> None:
    history = executed[6].outputs[-1]["data"]["image/svg+xml"]
    assert "1: simulation.py" in history and "2: cell&#45;sum" in history  # graphviz escapes "-"
    diff = executed[7].outputs[-1]["data"]["text/html"]
    assert "Trial 1 → trial 2" in diff and "attributes" in diff and "+c = sum(l)" in diff


def test_queries_and_libraries(executed: list[Any]) -> None:
    prolog, sparql = _text(executed[8]), _text(executed[9])
    for out in (prolog, sparql):
        assert "data1.dat" in out and "output.dat" in out
    assert "['Activation'" in _text(executed[10]) and "'data1.dat', 'data2.dat'" in _text(executed[10])
    assert _text(executed[11]).strip() == "True True"
    files_only = executed[12].outputs[-1]["data"]["image/svg+xml"]
    assert 'style="width: 100%"' in files_only and "FileVersion" in files_only and "Activation" not in files_only
    assert "simulation.py" in _text(executed[13]) and "cell-sum" in _text(executed[13])


def test_in_code_capture_in_a_cell_appears(executed: list[Any]) -> None:
    svg = executed[14].outputs[-1]["data"]["image/svg+xml"]
    assert "nb&#45;run" in svg and "double" in svg


def test_an_interactive_cell_records_its_dataflow(executed: list[Any]) -> None:
    assert '"df-cell" finished' in _text(executed[15])  # every kg run option works in a cell
    out = _text(executed[16])
    assert out.splitlines()[0] == "13"  # e = (c * 2) + 1 with c = 6 from the notebook
    assert 'label="d@1\\n12"' in out and 'label="e@2\\n13"' in out and "->" in out
