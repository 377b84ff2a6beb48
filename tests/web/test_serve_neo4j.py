"""`kg serve --store bolt://…`: the same pages over the shared Neo4j knowledge base, in chromium."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.web._serve import kg_serve
from tests.web.test_serve import Browser, b, chrome  # noqa: F401 (fixtures)

pytest.importorskip("flask")
pytestmark = pytest.mark.neo4j


def _kg(env: dict[str, str], cwd: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"kg {' '.join(args)}: {out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def served(neo4j_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The demo trial pushed to Neo4j and a `kg serve` over that Neo4j: (url, trial id, demo dir)."""
    base = tmp_path_factory.mktemp("serve-neo4j")
    env = {**os.environ, "KG_HOME": str(base / ".kg"), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    demo = base / "demo"
    _kg(env, base, "demo", "1", "-d", str(demo))
    _kg(env, demo, "run", "simulation.py", "data1.dat", "data2.dat")
    trial = json.loads(_kg(env, demo, "list", "-F", "json"))[0]["id"]
    _kg(env, demo, "annotate", "1", "served from Neo4j")
    _kg(env, demo, "push", trial, "--to", neo4j_uri)
    with kg_serve(["--store", neo4j_uri], base, env) as url:
        yield url, trial, demo


def test_pages_over_neo4j_show_the_trial_its_files_tree_notes_and_lineage(served: tuple[str, str, Path],
                                                                          b: Browser) -> None:
    url, trial, demo = served
    page = b.page()
    page.goto(f"{url}?q={trial}")
    assert page.locator("#run-count").inner_text().startswith("1 of ")
    page.get_by_role("link", name="simulation.py").first.click()
    page.wait_for_selector('#tree-root[data-state="ready"]')
    assert trial in page.locator("p.id").first.inner_text()
    files = page.locator("#files").inner_text()
    for name in ("data1.dat", "data2.dat", "output.dat", "output.svg"):
        assert name in files
    assert "served from Neo4j" in page.locator("#notes").inner_text()
    page.locator("#tree-root > li.node > button.toggle").click()
    page.wait_for_selector("#tree-root > li.node > ul > li.node")
    assert "run_simulation" in page.locator("#tree-root > li.node > ul").inner_text()
    # A stored content opens from the page (this machine kept it when it captured the trial).
    page.locator("#files tr", has_text="data1.dat").locator("a").first.click()
    assert page.locator("#content-text").inner_text().strip() == (demo / "data1.dat").read_text().strip()
    page.goto(f"{url}lineage?id={trial}")
    page.wait_for_selector("#lineage-name")
    assert "simulation.py" in page.locator("main").inner_text()
    b.shot(page, "neo4j-lineage")
    page.close()


def test_a_hub_over_neo4j_moves_runs_with_their_contents(neo4j_uri: str, tmp_path: Path) -> None:
    """The hub keeps experiments in the shared Neo4j: a pulled trial restores byte-identical."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "in.txt").write_text("through the Neo4j hub\n")
    (a / "s.py").write_text("open('out.txt', 'w').write(open('in.txt').read() * 2)\n")

    def env(home: Path) -> dict[str, str]:
        e = {**os.environ, "KG_HOME": str(home), "PYTHONPATH": str(ROOT)}
        e.pop("KG_STORE", None)
        return e

    _kg(env(tmp_path / "a-home"), a, "run", "s.py")
    _kg(env(tmp_path / "a-home"), a, "annotate", "1", "kept in Neo4j")
    with kg_serve(["--store", neo4j_uri, "--open"], tmp_path, env(tmp_path / "hub-home")) as url:
        exp = f"{url}experiments/neo4j-hub-{os.getpid()}-{id(tmp_path)}"
        _kg(env(tmp_path / "a-home"), a, "push", "--to", exp)
        _kg(env(tmp_path / "b-home"), b, "pull", "--from", exp)
    info = [_kg(env(tmp_path / h), d, "info").split()[-2:] for h, d in (("a-home", a), ("b-home", b))]
    assert info[0] == info[1]  # the same graph on both sides
    assert "kept in Neo4j" in _kg(env(tmp_path / "b-home"), b, "show", "1")
    _kg(env(tmp_path / "b-home"), b, "restore", "1")
    for name in ("in.txt", "s.py", "out.txt"):
        assert (b / name).read_bytes() == (a / name).read_bytes(), name
