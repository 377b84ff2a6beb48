"""`kg mcp`: the real command served over stdio to the real MCP client answers where the demo's
output file came from, fails cleanly on bad input, bounds its results and offers no write tool."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, need, run_kg

TOOLS = {"list_runs", "show_run", "lineage", "search", "list_queries", "query"}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KG_HOME holding one `kg run` trial of demo 1 (reads data1.dat and data2.dat, writes output.dat)."""
    need(importlib.util.find_spec("mcp") is not None, "the mcp extra (pip install 'provkg[mcp]')")
    base = tmp_path_factory.mktemp("kgmcp")
    env = {"KG_HOME": str(base / ".kg")}
    assert run_kg("demo", "1", "-d", str(base / "demo1"), cwd=base, env=env).returncode == 0
    ran = run_kg("run", "simulation.py", "data1.dat", "data2.dat", cwd=base / "demo1", env=env)
    assert ran.returncode == 0, ran.stderr
    return base / ".kg"


def _session(home: Path, script: Callable[[Any], Awaitable[Any]], *args: str) -> Any:
    """Start `kg mcp ARGS` under KG_HOME=home, and run ``script(session)`` through the real client."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    env.update(KG_HOME=str(home), PYTHONPATH=str(ROOT))
    params = StdioServerParameters(command=sys.executable, args=["-m", "kg", "mcp", *args], env=env,
                                   cwd=str(home.parent))

    async def go() -> Any:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                return await script(s)

    return asyncio.run(go())


def _calls(*calls: tuple[str, dict[str, Any]]) -> Callable[[Any], Awaitable[list[Any]]]:
    async def script(s: Any) -> list[Any]:
        return [await s.call_tool(name, arguments) for name, arguments in calls]
    return script


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_an_agent_finds_where_the_output_file_came_from(demo_home: Path) -> None:
    async def script(s: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": {t.name for t in (await s.list_tools()).tools}}
        out["runs"] = await s.call_tool("list_runs", {})
        out["search"] = await s.call_tool("search", {"text": "output.dat"})
        file_id = out["search"].structured_content["nodes"][0]["id"]
        out["by_name"] = await s.call_tool("lineage", {"node": "output.dat"})
        out["by_id"] = await s.call_tool("lineage", {"node": file_id, "direction": "up"})
        out["sparql"] = await s.call_tool("query", {"name": "lineage-files", "params": {"start": "output.dat"}})
        return out

    got = _session(demo_home, script)
    assert got["tools"] == TOOLS  # read-only: no tool writes, loads, deletes or runs anything
    (trial,) = got["runs"].structured_content["runs"]
    assert trial["kind"] == "Trial" and trial["name"] == "simulation.py" and trial["seq"] == 1
    hit = got["search"].structured_content["nodes"][0]
    assert hit["kind"] == "File" and hit["path"].endswith("demo1/output.dat")
    for answer in (got["by_name"], got["by_id"]):
        lin = answer.structured_content
        assert not answer.is_error and lin["start"]["id"] == hit["id"]
        files = {Path(f["path"]).name for f in lin["files"]}
        assert files == {"data1.dat", "data2.dat"}, files  # the inputs, and not the output itself
        kinds = {n["kind"] for n in lin["nodes"]}
        assert {"FileVersion", "Activation"} <= kinds  # the versions and the calls that wrote and read them
    rows = got["sparql"].structured_content["rows"]
    assert sorted(Path(r["path"]).name for r in rows) == ["data1.dat", "data2.dat"]


def test_bad_requests_are_clean_tool_errors(demo_home: Path) -> None:
    results = _session(demo_home, _calls(
        ("lineage", {"node": "no-such-node"}),
        ("lineage", {"node": "output.dat", "direction": "sideways"}),
        ("show_run", {"run": "99"}),
        ("query", {"name": "no-such-query"}),
        ("query", {"name": "../../etc/passwd"}),
        ("query", {"name": "run-tree"}),  # Cypher, and this store is SQLite
        ("search", {"text": "output", "limit": 0}),
    ))
    msgs = [_text(r) for r in results]
    assert all(r.is_error for r in results), msgs
    assert "no node 'no-such-node'" in msgs[0]
    assert "direction must be 'up'" in msgs[1]
    assert "no run '99'" in msgs[2]
    assert "no query named 'no-such-query'" in msgs[3]
    assert "is not a query name" in msgs[4]
    assert "needs a Neo4j store" in msgs[5]
    assert "limit must be at least 1" in msgs[6]
    for m in msgs:
        assert "Traceback" not in m and len(m) < 400


def test_results_are_bounded_and_say_so(demo_home: Path) -> None:
    from kg.mcp_server import DEFAULT_LIMIT, MAX_LIMIT, TEXT_LIMIT

    small, huge, lin, default = _session(demo_home, _calls(
        ("show_run", {"run": "1", "limit": 5}),
        ("show_run", {"run": "1", "limit": 100_000}),
        ("lineage", {"node": "output.dat", "limit": 2}),
        ("show_run", {"run": "1"}),
    ), "--store", str(demo_home / "kg.db"))  # the store named after the command, as a client config does
    s = small.structured_content
    assert s["returned"] == len(s["tasks"]) == 5 and s["total"] > 1000 and s["truncated"]
    assert "showing 5 of" in s["note"]
    h = huge.structured_content
    assert h["returned"] == len(h["tasks"]) == MAX_LIMIT and h["truncated"]  # capped, whatever was asked
    for task in h["tasks"]:
        for value in task.values():
            assert not isinstance(value, str) or len(value) <= TEXT_LIMIT, value
    lg = lin.structured_content
    assert lg["returned"] == len(lg["nodes"]) == 2 and lg["truncated"] and lg["total"] > 2
    assert default.structured_content["returned"] == DEFAULT_LIMIT


def test_on_neo4j_the_cypher_queries_answer_too(demo_home: Path, neo4j_uri: str) -> None:
    pushed = run_kg("push", "--to", neo4j_uri, cwd=demo_home.parent, env={"KG_HOME": str(demo_home)})
    assert pushed.returncode == 0, pushed.stderr

    output = str(demo_home.parent / "demo1" / "output.dat")  # by path: a shared Neo4j may hold other demos

    async def script(s: Any) -> dict[str, Any]:
        lin = await s.call_tool("lineage", {"node": output})
        version = next(n["id"] for n in lin.structured_content["nodes"] if n["kind"] == "FileVersion")
        up = await s.call_tool("query", {"name": "upstream-lineage", "params": {"entity": version, "depth": "5"}})
        return {"lineage": lin, "version": version, "up": up}

    got = _session(demo_home, script, "--store", neo4j_uri)
    assert {Path(f["path"]).name for f in got["lineage"].structured_content["files"]} >= {"data1.dat", "data2.dat"}
    up = got["up"].structured_content
    assert not got["up"].is_error and up["language"] == "cypher", up
    assert {"FileVersion", "Activation"} <= {r["kind"] for r in up["rows"]}
    assert all(r["depth"] <= 5 for r in up["rows"])
