"""Added cost per MCP tool call of @capture.agent_task, against the same undecorated tool.

Two figures, each beside its baseline in the same run: the direct in-process call of the
decorated function (sync and async; flush thread paused, so the caller's own cost), and calls
through a real client session to a real stdio server (tests/capture_ext/agent_server.py: `echo`
is decorated, `plain` is not), where the records are stored by the server's flush thread. Run:
    .venv/bin/python bench/bench_agent.py [N_DIRECT] [N_SESSION]
"""
from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "capture_ext" / "agent_server.py"


def direct(n: int) -> list[tuple[str, str, str]]:
    tmp = scratch("agent")
    import capture
    from kg.sink import Sink, set_sink
    from kg.stores.sqlite import SqliteStore

    def plain(text: str) -> str:
        return text

    async def aplain(text: str) -> str:
        return text

    wrapped, awrapped = capture.agent_task(plain), capture.agent_task(aplain)

    def loop(fn) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            fn("x")
        return time.perf_counter() - t0

    async def aloop(fn) -> float:
        t0 = time.perf_counter()
        for i in range(n):
            await fn("x")
        return time.perf_counter() - t0

    store = SqliteStore(tmp / "bench.db")
    sink = Sink(store, cap=20 * n, interval=3600)  # the flush thread stays out of the timed loops
    set_sink(sink)
    rows = []
    with capture.Run(name="bench-agent-direct"):
        gc.collect()
        base, deco = min(loop(plain) for _ in range(3)), min(loop(wrapped) for _ in range(3))
        sink.buf.clear()
        abase = min(asyncio.run(aloop(aplain)) for _ in range(3))
        adeco = min(asyncio.run(aloop(awrapped)) for _ in range(3))
        sink.buf.clear()
    sink.close()
    set_sink(None)
    store.close()
    for label, b, d in (("direct sync", base, deco), ("direct async", abase, adeco)):
        rows.append((f"{label}: undecorated", f"{b / n * 1e6:.2f} µs", "per call"))
        rows.append((f"{label}: @agent_task", f"{d / n * 1e6:.2f} µs",
                     f"+{(d - b) / n * 1e6:.2f} µs, {d / b:.1f}x the plain call"))
    return rows


def session(n: int) -> list[tuple[str, str, str]]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    tmp = scratch("agent-session")
    env = {**os.environ, "KG_HOME": str(tmp / ".kg"), "PYTHONPATH": str(ROOT)}
    env.pop("KG_STORE", None)
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER), "bench-agent"], env=env)

    async def go() -> dict[str, float]:
        best = {"plain": float("inf"), "echo": float("inf")}
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                for name in best:  # warm both paths (schemas, threads) before timing
                    await s.call_tool(name, {"text": "warm"})
                for _ in range(3):  # interleaved rounds: both tools see the same machine load
                    for name in best:
                        t0 = time.perf_counter()
                        for _ in range(n):
                            await s.call_tool(name, {"text": "x"})
                        best[name] = min(best[name], time.perf_counter() - t0)
        return best

    best = asyncio.run(go())
    from kg.stores.sqlite import SqliteStore

    with SqliteStore(tmp / ".kg" / "kg.db") as store:  # the server flushed at exit: every call is there
        stored = sum(1 for t in store.find_nodes(kind="Task") if t.props.get("tool") == "echo")
    b, d = best["plain"], best["echo"]
    return [
        ("session: undecorated tool", f"{b / n * 1e6:.0f} µs", "per call, client to server and back"),
        ("session: @agent_task tool", f"{d / n * 1e6:.0f} µs",
         f"+{(d - b) / n * 1e6:.0f} µs, {d / b:.2f}x the plain tool; {stored} calls stored"),
    ]


def main(n_direct: int = 100_000, n_session: int = 300) -> None:
    rows = direct(n_direct) + session(n_session)
    report(f"@capture.agent_task overhead ({n_direct} direct calls, {n_session} session calls x 3)", rows)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
