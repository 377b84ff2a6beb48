"""Real third-party pure-Python programs for `kg run` benchmarks: pyperformance's benchmark sources.

Written by other people (Richards, DeltaBlue, Go, ray tracer, ...) and not for provkg, they
are fetched once from PyPI (the pyperformance 1.14.0 wheel, into bench/programs/.cache) and run
unchanged, with the stand-in ``pyperf`` of pyperf_shim/ on PYTHONPATH (see its docstring).
Each argv makes a program run 0.1-0.6 s under plain python on the 2-core development machine."""
from __future__ import annotations

import os
from pathlib import Path

from .fetch import VERSION, fetch

__all__ = ["PROGRAMS", "VERSION", "prepare", "env"]

HERE = Path(__file__).resolve().parent

# name -> argv. ``--loops N`` is pyperf's own option: a bench_time_func program's timed function
# gets loops=N, a bench_func program's function is called N times (pyperf_shim/pyperf.py).
# Counts calibrated on the 2-core machine with Python 3.11 (whole process, startup included).
PROGRAMS: dict[str, list[str]] = {
    "richards": ["--loops", "4"],            # OO task scheduler, method calls
    "richards_super": ["--loops", "4"],      # the same through super()
    "deltablue": ["--loops", "50"],          # OO constraint solver, deep method chains
    "go": ["--loops", "2"],                  # Go-playing Monte Carlo tree search, OO + recursion
    "hexiom": ["--loops", "40"],             # puzzle solver, recursive search
    "chaos": ["--loops", "3"],               # fractal: spline objects, small methods
    "raytrace": ["--loops", "1"],            # ray tracer: vector objects, dunder methods
    "nbody": ["--loops", "3"],               # numeric loops, few calls
    "spectral_norm": ["--loops", "3"],       # numeric: many tiny function calls
    "fannkuch": ["--loops", "1"],            # list permutations, one long function
    "float": ["--loops", "3"],               # object creation, math calls
    "nqueens": ["--loops", "3"],             # generator expressions, permutations
    "generators": ["--loops", "2"],          # recursive generators (tree walk)
    "coroutines": ["--loops", "10"],         # recursive coroutines
    "comprehensions": ["--loops", "10000"],  # dataclasses, comprehensions
    "meteor_contest": ["--loops", "3"],      # puzzle solver, recursion + generators
    "scimark": ["--loops", "2", "sor"],      # SOR through Array2D.__getitem__/__setitem__
    "pyflate": ["--loops", "1"],             # pure-Python bzip2 decoder, bit reader methods
    "barnes_hut": ["--loops", "1", "--iterations", "25"],  # quadtree n-body, recursion
}


def prepare() -> Path:
    """The directory holding ``bm_<name>.py`` for every program (downloaded and extracted once)."""
    return fetch(PROGRAMS)


def env() -> dict[str, str]:
    """Environment additions that let the programs import the stand-in pyperf."""
    shim = str(HERE / "pyperf_shim")
    old = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": shim + (os.pathsep + old if old else "")}
