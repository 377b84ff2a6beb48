"""A small MCP server (stdio) whose tools are agent tasks: run by tests/capture_ext/test_agent_tasks.py
and bench/bench_agent.py as a subprocess, writing to the store of its KG_HOME/KG_STORE."""
from __future__ import annotations

import sys

import capture

try:  # mcp 2.x; FastMCP is the same server in mcp 1.x
    from mcp.server.mcpserver import Context, MCPServer
except ImportError:
    from mcp.server.fastmcp import Context, FastMCP as MCPServer  # type: ignore[no-redef]

server = MCPServer("agent-lab")


@server.tool()
@capture.agent_task
def add(a: int, b: int, prompt: str = "") -> int:
    """Add two numbers."""
    capture.agents.record_prompt(response=f"the sum is {a + b}")
    return a + b


@server.tool()
@capture.agent_task
async def explode(reason: str, ctx: Context) -> str:
    """Always fails (an async tool that takes the request context itself)."""
    raise ValueError(f"cannot comply: {reason}")


@server.tool()
@capture.agent_task
def echo(text: str) -> str:
    """Decorated twin of `plain`, for the bench."""
    return text


@server.tool()
def plain(text: str) -> str:
    """Undecorated, for the bench."""
    return text


if __name__ == "__main__":
    with capture.Run(name=sys.argv[1] if len(sys.argv) > 1 else "agent-lab"):
        server.run()
