"""A stand-in for the few parts of ``pyperf`` that pyperformance's benchmark programs use.

pyperf runs a benchmark in worker processes it spawns; `kg run` captures one process. This
module runs the benchmark in the process itself, once, with ``--loops N`` (default 1), so that
the program's own code is what `kg run` records. It lives outside the programs' directory
(on PYTHONPATH): `kg run` takes it for library code, as it would take the real pyperf, and
only ``bm_<name>.py`` counts as user code."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

__all__ = ["perf_counter", "Runner"]

perf_counter = time.perf_counter  # what pyperf itself exports


class Runner:
    """``pyperf.Runner``: parses the program's options and runs its benchmark function here."""

    def __init__(self, *args: Any, add_cmdline_args: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        # add_cmdline_args builds the workers' command lines in pyperf; there are no workers here.
        self.metadata: dict[str, Any] = {}
        self.argparser = argparse.ArgumentParser()
        self.argparser.add_argument("--loops", type=int, default=1)
        self.args: argparse.Namespace | None = None

    def parse_args(self, args: list[str] | None = None) -> argparse.Namespace:
        # Unknown options (pyperf's other ones: --fast, --values, ...) are ignored, not fatal.
        self.args, _unknown = self.argparser.parse_known_args(args)
        return self.args

    def _loops(self) -> int:
        # Programs that add no options of their own never call parse_args themselves.
        return max(1, int(getattr(self.args or self.parse_args(), "loops", 1)))

    def bench_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """``func(*args)``, ``--loops`` times: one pyperf value of ``loops`` calls."""
        for _ in range(self._loops()):
            func(*args)

    def bench_time_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
        """``func(loops, *args)`` once; it loops itself and returns the seconds it took."""
        return float(func(self._loops(), *args))

    def bench_async_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """``asyncio.run(func(*args))``, ``--loops`` times (no chosen program uses it; kept for parity)."""
        import asyncio

        for _ in range(self._loops()):
            asyncio.run(func(*args))
