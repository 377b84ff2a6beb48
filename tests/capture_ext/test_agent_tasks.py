"""@capture.agent_task: a real MCP server (tests/capture_ext/agent_server.py) over stdio, called by the
real client; its tool calls, arguments, results, errors and the calling agent end up in the store."""
from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import capture
from kg.sink import Sink
from kg.stores.sqlite import SqliteStore
from tests.capture_ext.conftest import require_extra
from tests.conftest import ROOT

SERVER = Path(__file__).with_name("agent_server.py")


async def _session(home: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[Any, list[Any]]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp_types import Implementation

    env = {**os.environ, "KG_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), "agent-test"], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, client_info=Implementation(name="lab-agent", version="1.2.3")) as s:
            await s.initialize()
            tools = await s.list_tools()
            results = [await s.call_tool(name, args) for name, args in calls]
    return tools, results


def test_tool_calls_are_recorded_with_arguments_results_errors_and_caller(tmp_path: Path) -> None:
    require_extra("mcp", "mcp")
    home = tmp_path / "server-home"
    tools, (ok, failed) = asyncio.run(_session(home, [
        ("add", {"a": 2, "b": 40, "prompt": "What is 2 + 40?"}),
        ("explode", {"reason": "out of scope"}),
    ]))
    # The decorator left the schemas as the functions declare them (no context parameter in sight).
    schema = {t.name: t.input_schema for t in tools.tools}
    assert set(schema["add"]["properties"]) == {"a", "b", "prompt"} and schema["add"]["required"] == ["a", "b"]
    assert set(schema["explode"]["properties"]) == {"reason"}
    assert not ok.is_error and ok.structured_content == {"result": 42}
    assert failed.is_error  # the tool's exception reached the client as a tool error, unchanged by capture

    with SqliteStore(home / "kg.db") as store:  # the server exited at the session's end and flushed
        (run,) = store.runs()
        assert run.props["name"] == "agent-test" and run.props["status"] == "finished"
        calls = {n.props["tool"]: n for n in store.find_nodes(run=run.id, kind="Task")}
        add, boom = calls["add"], calls["explode"]
        assert add.props["used"] == {"a": 2, "b": 40, "prompt": "What is 2 + 40?"}
        assert add.props["generated"] == {"result": 42} and add.props["status"] == "FINISHED"
        assert add.props["prompt"] == "What is 2 + 40?"
        assert add.props["response"] == "the sum is 42"  # noted by the tool with capture.agents.record_prompt
        assert "mcp-tool" in add.props["tags"] and add.props["ended"] >= add.props["started"]
        assert boom.props["used"] == {"reason": "out of scope"}  # the tool's own ctx parameter is not an input
        assert boom.props["status"] == "ERROR" and boom.props["error_type"] == "ValueError"
        assert boom.props["error"] == "cannot comply: out of scope" and "generated" not in boom.props
        assert "agent_server.py" in boom.props["traceback"]
        for call in (add, boom):
            assert call.props["client"] == "lab-agent" and call.props["client_version"] == "1.2.3"
            assert call.props["parent"] == run.id
            edges = {e.props["role"]: e.dst for e in store.find_edges(src=call.id, rel="WAS_ASSOCIATED_WITH")}
            caller, server = store.get_node(edges["caller"]), store.get_node(edges["server"])
            assert caller.cls == "Agent" and caller.kind == "SoftwareAgent"
            assert (caller.props["name"], caller.props["version"]) == ("lab-agent", "1.2.3")
            assert caller.props["session"] == call.props["session"]
            assert server.props["name"] == "agent-lab"
        assert add.props["session"] == boom.props["session"]  # one client session, one agent


def test_direct_calls_keep_signature_result_and_exceptions(store: SqliteStore, strict_sink: Sink) -> None:
    require_extra("mcp", "mcp")

    def scale(x: int, factor: float = 2.0) -> float:
        """Scale x."""
        return x * factor

    async def fail(msg: str) -> None:
        raise KeyError(msg)

    wrapped = capture.agent_task(scale)
    afail = capture.agent_task(name="fail-tool")(fail)
    assert wrapped.__name__ == "scale" and wrapped.__doc__ == "Scale x." and wrapped.__wrapped__ is scale
    params = inspect.signature(wrapped).parameters
    assert list(params)[:2] == ["x", "factor"] and params["factor"].default == 2.0
    assert set(scale.__annotations__) == {"x", "factor", "return"}  # the original is untouched
    assert inspect.iscoroutinefunction(afail)
    with capture.Run(name="direct") as run:
        assert wrapped(3) == 6.0
        with pytest.raises(KeyError) as err:
            asyncio.run(afail("missing"))
        assert err.value.args == ("missing",)
    calls = {n.props["tool"]: n for n in store.find_nodes(run=run.id, kind="Task")}
    assert calls["scale"].props["used"] == {"x": 3, "factor": 2.0}
    assert calls["scale"].props["generated"] == {"result": 6.0}
    assert "client" not in calls["scale"].props  # called without a server: no caller to record
    assert calls["fail-tool"].props["status"] == "ERROR" and calls["fail-tool"].props["error_type"] == "KeyError"


def test_a_store_that_cannot_be_written_never_reaches_the_tool(tmp_path: Path) -> None:
    require_extra("mcp", "mcp")
    # A store under a regular file cannot be created: capture fails, the tools must not notice.
    (tmp_path / "not-a-dir").write_text("")
    program = (
        "import asyncio, capture\n"
        "@capture.agent_task\n"
        "def double(x): return x * 2\n"
        "@capture.agent_task\n"
        "async def boom(key): raise KeyError(key)\n"
        "print(double(21), double('ab'))\n"
        "try:\n"
        "    asyncio.run(boom('k'))\n"
        "except KeyError as exc:\n"
        "    print('KeyError', exc.args)\n"
        "capture.disable()\n"
        "print(double(1))\n"
    )
    env = {**os.environ, "KG_STORE": str(tmp_path / "not-a-dir" / "kg.db"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["42 abab", "KeyError ('k',)", "2"]
    assert "capture fault" in r.stderr and r.stderr.count("capture fault") == 1  # said once, not per call
