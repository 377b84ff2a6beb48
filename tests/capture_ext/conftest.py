"""Fixtures for loops, telemetry, adapters and distributed capture: a real redis-server, optional extras."""
from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require_extra(module: str, extra: str) -> None:
    """Skip (fail when CI=true) unless the optional extra that provides ``module`` is installed."""
    need(have(module), f"the {extra} extra ({module}); pip install 'provkg[{extra}]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free port (no persistence), so tests can flush and kill freely."""
    exe = shutil.which("redis-server")
    need(exe is not None, "redis-server (apt-get install redis-server)")
    need(have("redis"), "redis-py (pip install 'provkg[redis]')")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen([str(exe), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
