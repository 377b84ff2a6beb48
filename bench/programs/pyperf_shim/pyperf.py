"""A stand-in for the few parts of ``pyperf`` that pyperformance's benchmark programs use.

pyperf runs a benchmark in worker processes it spawns; `kg run` captures one process. This
module runs the benchmark function in the process itself, ``--loops N`` times (default 1), so
that the program's own code is what `kg run` records. It lives outside the programs'
directory: `kg run` takes it for library code, as it would take the real pyperf."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

perf_counter = time.perf_counter


class Runner:
    """``pyperf.Runner``: parses the program's options and runs its benchmark function here."""

    def __init__(self, *args: Any, add_cmdline_args: Callable[..., Any] | None = None, **kwargs: Any) -> None:
        self.metadata: dict[str, Any] = {}
        self.argparser = argparse.ArgumentParser()
        self.argparser.add_argument("--loops", type=int, default=1)
        self.args: argparse.Namespace | None = None

    def parse_args(self, args: list[str] | None = None) -> argparse.Namespace:
        self.args, _unknown = self.argparser.parse_known_args(args)
        return self.args

    def _loops(self) -> int:
        return int(getattr(self.args or self.parse_args(), "loops", 1))

    def bench_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        for _ in range(self._loops()):
            func(*args)

    def bench_time_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
        return float(func(self._loops(), *args))

    def bench_async_func(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        import asyncio

        for _ in range(self._loops()):
            asyncio.run(func(*args))
