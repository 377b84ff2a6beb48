"""`kg serve` in a real browser: Playwright drives Debian's chromium against a real `kg serve`
process over a real capture (the demo run twice with a change, an in-code Run with a hostile
task name, a saved engine workflow, and a 100k-activation trial)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.web._serve import kg_serve
from tests.conftest import ROOT, need

CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>alert(1)</script>"

# The in-code capture: a Run with tasks (one of them, and the run, with a hostile name) and a
# persistent engine workflow halted on its second token.
CAPTURE_SCRIPT = f"""
import capture
from kg.engine.errors import HaltProcessing
from kg.engine.graph import PersistentEngine, register_workflow
from kg.stores import open_store

@capture.task(output_names="items")
def prepare(n):
    return list(range(n))

@capture.task(name={HOSTILE!r})
def hostile(x):
    return x * 2

with capture.Run(name={HOSTILE!r}):
    for x in prepare(3):
        hostile(x)

def grade(obj, eng):
    obj["grade"] = obj["n"] * 10

def gate(obj, eng):
    if obj["n"] == 1:
        eng.halt("needs approval", action="approve")

register_workflow("grading", [grade, gate])
eng = PersistentEngine("grading", store=open_store(None))
try:
    eng.process([{{"n": i}} for i in range(3)])
except HaltProcessing:
    pass
"""

# 100 calls of branch(), each making 1,000 calls of leaf(): 100,101 activations under main().
BIG_SCRIPT = """
def leaf(i):
    return i + 1

def branch(k):
    total = 0
    for i in range(1000):
        total += leaf(i)
    return total

def main():
    for k in range(100):
        branch(k)

main()
"""


@dataclass
class Site:
    url: str
    home: Path
    demo: Path
    trials: dict[str, str] = field(default_factory=dict)  # "first", "second", "big", "run" -> id


def _kg(env: dict[str, str], cwd: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _ids(env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    import json

    return json.loads(_kg(env, cwd, "list", "--format", "json"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("serve")
    home = base / ".kg"
    env = {**os.environ, "KG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    demo = base / "demo"
    _kg(env, base, "demo", "1", "-d", str(demo))
    _kg(env, demo, "run", "simulation.py", "data1.dat", "data2.dat")
    sim = demo / "simulation.py"
    sim.write_text(sim.read_text().replace('out.write("t prey predators\\n")', 'out.write("# t prey predators\\n")'))
    _kg(env, demo, "run", "simulation.py", "data1.dat", "data2.dat")
    (base / "tasks.py").write_text(CAPTURE_SCRIPT)
    done = subprocess.run([sys.executable, "tasks.py"], cwd=base, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    (base / "big.py").write_text(BIG_SCRIPT)
    _kg(env, base, "run", "big.py")
    rows = _ids(env, base)
    by_seq = {r["#"]: r["id"] for r in rows}
    trials = {"first": by_seq[1], "second": by_seq[2], "run": by_seq[3], "big": by_seq[4]}
    with kg_serve(["--store", str(home / "kg.db")], base, env) as url:
        yield Site(url, home, demo, trials)


class Browser:
    """One chromium for the module; every page collects console errors, page errors and dialogs."""

    def __init__(self, browser: Any, shots: Path) -> None:
        self.browser = browser
        self.shots = shots
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def page(self) -> Any:
        page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        return page

    def shot(self, page: Any, name: str) -> Path:
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 1000
        return path


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    need(os.path.exists(CHROMIUM), f"chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright for Python")
        raise
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield Browser(browser, tmp_path_factory.mktemp("screenshots"))
        finally:
            browser.close()


@pytest.fixture
def b(chrome: Browser) -> Iterator[Browser]:
    chrome.errors.clear()
    chrome.dialogs.clear()
    yield chrome
    assert chrome.errors == [], chrome.errors
    assert chrome.dialogs == [], f"a dialog opened: {chrome.dialogs}"


def test_runs_list_searches_and_filters(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(site.url)
    assert page.locator("#run-count").inner_text() == "4 of 4 runs"
    body = page.locator("#runs").inner_text()
    assert "run simulation.py data1.dat data2.dat" in body and "big.py" in body
    assert HOSTILE in body  # the hostile run name is text on the page, not a script
    assert page.locator("#runs script").count() == 0
    b.shot(page, "runs")
    page.select_option("select[name=kind]", "trial")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"kind=trial"))
    assert page.locator("#run-count").inner_text() == "3 of 4 runs"
    assert HOSTILE not in page.locator("#runs").inner_text()
    page.goto(site.url + "?q=big")
    assert page.locator("#run-count").inner_text() == "1 of 4 runs"
    page.goto(site.url + "?since=2000-01-01&until=2000-12-31")
    assert "No run matches." in page.locator("#runs").inner_text()
    page.close()


def test_trial_page_shows_its_parts_and_the_tree_expands(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(site.url)
    page.get_by_role("link", name="simulation.py").first.click()  # newest first: trial 2
    page.wait_for_selector('#tree-root[data-state="ready"]')
    assert page.locator("h1").inner_text().startswith("Trial 2: run simulation.py data1.dat data2.dat")
    files = page.locator("#files").inner_text()
    assert "File accesses (4)" in files
    for name in ("data1.dat", "data2.dat", "output.dat", "output.svg"):
        assert name in files
    assert "data1.dat" in page.locator("#arguments").inner_text()
    assert re.search(r"Modules \(\d+\)", page.locator("#modules").inner_text())
    assert "PYTHON_VERSION" in page.locator("#environment").inner_text()
    defs = page.locator("#definitions")
    assert "run_simulation" in defs.inner_text()
    defs.locator("summary", has_text="save").first.click()
    assert 'out.write("# t prey predators' in defs.inner_text()  # its source, from the stored script
    # The tree starts collapsed at __main__; opening it fetches the script's top-level calls.
    root = page.locator("#tree-root > li.node")
    assert root.count() == 1 and "__main__" in root.inner_text()
    assert page.locator("#tree-root li.node li.node").count() == 0
    root.locator("> button.toggle").click()
    page.wait_for_selector("#tree-root > li.node > ul > li.node")
    level = page.locator("#tree-root > li.node > ul > li.node .name")
    names = level.all_inner_texts()
    assert "run_simulation" in names and "save" in names and "plot.write_svg" in names
    b.shot(page, "trial")
    # A stored file content opens as text.
    page.locator("#files tr", has_text="data1.dat").locator("a").first.click()
    assert page.locator("#content-name").inner_text().endswith("data1.dat")
    assert page.locator("#content-text").inner_text().strip() == (site.demo / "data1.dat").read_text().strip()
    # ... and its download link gives the bytes as an attachment.
    href = page.get_by_role("link", name="download").get_attribute("href")
    assert href is not None
    with urllib.request.urlopen(site.url + href.lstrip("/"), timeout=10) as resp:
        assert resp.headers["Content-Disposition"] == 'attachment; filename="data1.dat"'
        assert resp.read() == (site.demo / "data1.dat").read_bytes()
    page.close()


def test_hostile_names_render_as_text(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(f"{site.url}run/{site.trials['run']}")
    page.wait_for_selector('#tree-root[data-state="ready"]')
    assert page.locator("#run-title").inner_text() == HOSTILE
    assert page.title().startswith(f"Run 3: {HOSTILE}")
    names = page.locator("#tree-root .name").all_inner_texts()
    assert names.count(HOSTILE) == 3 and "prepare" in names
    assert "x=0" in page.locator("#tree-root").inner_text()
    assert page.locator("main script").count() == 0
    page.close()


def test_history_graph_and_comparison_show_the_changed_line(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(site.url + "history")
    page.wait_for_selector('#history-graph[data-state="ready"]')
    assert page.locator("#history-graph").get_attribute("data-nodes") == "3"
    rows = page.locator("#trials").inner_text()
    assert "run simulation.py data1.dat data2.dat" in rows and "run big.py" in rows
    assert "*" in page.locator("pre.history").inner_text()
    b.shot(page, "history")
    page.check(f"input[name=a][value='{site.trials['first']}']")
    page.check(f"input[name=b][value='{site.trials['second']}']")
    page.get_by_role("button", name="Compare a → b").click()
    page.wait_for_url(re.compile(r"/diff\?"))
    assert page.locator("h1").inner_text() == "Compare trial 1 → trial 2"
    src = page.locator("#diff-source").inner_text()
    assert "Source: 1 script changed" in src and "simulation.py" in src
    assert '-        out.write("t prey predators\\n")' in src
    assert '+        out.write("# t prey predators\\n")' in src
    assert "code_hash" in page.locator("#diff-attributes").inner_text()
    assert "output.dat" in page.locator("#diff-files").inner_text()  # its content changed
    b.shot(page, "diff")
    page.close()


def test_lineage_of_output_reaches_its_inputs_and_nodes_are_clickable(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(f"{site.url}run/{site.trials['first']}")
    page.locator("#files tr", has_text="output.dat").get_by_role("link", name="lineage").click()
    page.wait_for_selector('#lineage-graph[data-state="ready"]')
    assert page.locator("#lineage-name").inner_text() == "output.dat"
    table = page.locator("#lineage-nodes").inner_text()
    assert "data1.dat" in table and "data2.dat" in table and "save" in table
    drawn = page.evaluate("window.kgGraph.nodes().map(n => n.data('label'))")
    assert "FileVersion: data1.dat" in drawn and "FileVersion: output.dat" in drawn
    b.shot(page, "lineage")
    # Clicking a node of the graph opens that node's lineage: data1.dat, downstream to output.dat.
    data1 = page.evaluate("window.kgGraph.nodes().filter(n => n.data('label') === 'FileVersion: data1.dat')[0].id()")
    with page.expect_navigation():
        page.evaluate(f"window.kgGraph.getElementById({data1!r}).emit('tap')")
    page.wait_for_selector('#lineage-graph[data-state="ready"]')
    assert page.locator("#lineage-name").inner_text() == "data1.dat"
    down = page.locator("#lineage-nodes tr", has_text="output.dat").first.inner_text()
    assert down.startswith("down")
    page.close()


def test_workflows_show_their_state(site: Site, b: Browser) -> None:
    page = b.page()
    page.goto(site.url + "workflows")
    row = page.locator("#workflows tbody tr", has_text="grading")
    assert "HALTED" in row.inner_text()
    row.get_by_role("link", name="grading").click()
    assert page.locator("#workflow-name").inner_text() == "grading"
    tokens = page.locator("#tokens tbody tr").all_inner_texts()
    assert len(tokens) == 3 and "COMPLETED" in tokens[0] and "HALTED" in tokens[1]
    assert "needs approval" in page.locator("table.kv").inner_text()
    page.close()


def test_a_100k_activation_trial_opens_fast_and_pages_its_children(site: Site, b: Browser) -> None:
    from playwright.sync_api import expect

    page = b.page()
    t0 = time.perf_counter()
    page.goto(f"{site.url}run/{site.trials['big']}")
    page.wait_for_selector('#tree-root[data-state="ready"]')
    first_view = time.perf_counter() - t0
    print(f"\n100k-activation trial page: first view in {first_view:.3f}s")
    assert "Activations (100102)" in page.locator("#tree h2").inner_text()
    assert first_view < 2.0
    page.locator("#tree-root > li.node > button.toggle").click()  # __main__ -> main
    main = page.locator("#tree-root > li.node > ul > li.node").first
    main.wait_for()
    t1 = time.perf_counter()
    main.locator("> button.toggle").click()  # main -> 100 x branch
    expect(main.locator("> ul > li.node")).to_have_count(100)
    branch = main.locator("> ul > li.node").first
    branch.locator("> button.toggle").click()  # branch -> 1,000 x leaf, 200 at a time
    more = branch.locator("> ul > li.more button")
    more.wait_for()
    print(f"100k-activation trial: two levels opened in {time.perf_counter() - t1:.3f}s")
    assert branch.locator("> ul > li.node").count() == 200
    assert more.inner_text() == "… 800 more"
    more.click()
    expect(branch.locator("> ul > li.node")).to_have_count(400)
    page.close()


def test_bad_ids_get_a_404_page_and_writes_are_refused(site: Site, b: Browser) -> None:
    page = b.page()
    for path in ("run/no-such-run", "lineage?id=no-such-node", "workflow/nope", "content/" + "0" * 64,
                 "content/not-a-hash", "no/such/page"):
        resp = page.goto(site.url + path)
        assert resp is not None and resp.status == 404, path
        assert page.locator("h1").inner_text().startswith("404"), path
        assert "Traceback" not in page.content()
    b.errors.clear()  # the browser logs each 404 response as a console error: expected here
    page.close()
    req = urllib.request.Request(site.url, data=b"x=1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405


def test_docs_screenshot(site: Site, b: Browser) -> None:
    """KG_DOCS_SCREENSHOT=1 refreshes docs/img/kg-serve.png (the trial page, tree opened)."""
    if os.environ.get("KG_DOCS_SCREENSHOT") != "1":
        pytest.skip("set KG_DOCS_SCREENSHOT=1 to refresh docs/img/kg-serve.png")
    page = b.page()
    page.goto(f"{site.url}run/{site.trials['first']}")
    page.wait_for_selector('#tree-root[data-state="ready"]')
    page.locator("#tree-root > li.node > button.toggle").click()
    page.locator("#tree-root > li.node > ul > li.node", has_text="run_simulation").locator("> button.toggle").click()
    page.wait_for_selector("#tree-root > li.node > ul > li.node > ul > li.node")
    shot = b.shot(page, "docs")
    target = ROOT / "docs" / "img" / "kg-serve.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, target)
    page.close()


def test_serve_without_a_store_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "KG_HOME": str(tmp_path / "empty"), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    out = subprocess.run([sys.executable, "-m", "kg", "serve", "--port", "0"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.startswith("kg: error: no store at ") and len(out.stderr.splitlines()) == 1
    assert not (tmp_path / "empty" / "kg.db").exists()  # a typo must not make an empty store


def _json(url: str) -> Any:
    import json

    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_every_page_has_a_json_twin_and_the_tree_endpoint_pages(site: Site) -> None:
    status, runs = _json(site.url + "runs.json?kind=trial")
    assert status == 200 and [r["seq"] for r in runs["rows"]] == [4, 2, 1]
    status, run = _json(f"{site.url}run/{site.trials['first']}.json")
    assert status == 200 and run["page"]["run"]["props"]["name"] == "simulation.py"
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in run["page"]["files"]) == [
        "data1.dat", "data2.dat", "output.dat", "output.svg"]
    status, diff = _json(f"{site.url}diff.json?a=1&b=2")
    assert status == 200 and [s["path"] for s in diff["page"]["sources"]] == ["simulation.py"]
    status, hist = _json(site.url + "history.json")
    assert [r["seq"] for r in hist["page"]["rows"]] == [1, 2, 4]
    # main() of the big trial has 100 children; branch(0) has 1,000, sent 200 at a time.
    _, top = _json(f"{site.url}api/children?id={site.trials['big']}")
    _, main = _json(f"{site.url}api/children?id={top['children'][0]['id']}")
    _, inner = _json(f"{site.url}api/children?id={main['children'][0]['id']}")
    assert inner["total"] == 100 and inner["children"][0]["name"] == "branch"
    _, leaves = _json(f"{site.url}api/children?id={inner['children'][0]['id']}&offset=900&limit=500")
    assert leaves["total"] == 1000 and len(leaves["children"]) == 100 and leaves["children"][0]["used"] == "i=900"
    status, err = _json(site.url + "run/no-such-run.json")
    assert status == 404 and "no run 'no-such-run'" in err["error"]
