"""Start a real `kg serve` for a test and wait for the URL it prints."""
from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def kg_serve(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """`kg serve ARGS --port 0` running until the block ends; yields its http://127.0.0.1:PORT/."""
    # The server's log goes to a file: a pipe nobody reads would fill up and stall the server.
    log = cwd / f"serve-{time.time_ns()}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "kg", "serve", *args, "--port", "0"], cwd=cwd, env=env,
                                stderr=err)
    try:
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            found = re.search(r"(http://127\.0\.0\.1:\d+/)", log.read_text())
        assert found, f"kg serve did not start: {log.read_text()}"
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
