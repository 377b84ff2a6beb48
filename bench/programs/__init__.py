"""Real third-party pure-Python programs for `kg run` benchmarks: pyperformance's benchmark sources.

Written by other people (Richards, DeltaBlue, Go, ray tracer, ...) and not for provkg, they
are fetched once from PyPI (the pyperformance 1.14.0 wheel, into bench/programs/.cache) and run
unchanged, with the stand-in ``pyperf`` of pyperf_shim/ on PYTHONPATH (see its docstring).
Each argv makes a program run 0.1-0.6 s under plain python on the 2-core development machine."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

__all__ = ["PROGRAMS", "VERSION", "prepare", "env"]

HERE = Path(__file__).resolve().parent
VERSION = "1.14.0"
CACHE = HERE / ".cache"

# name -> argv (pyperf's --loops: how many times the program's benchmark function runs)
PROGRAMS: dict[str, list[str]] = {
    "richards": ["--loops", "4"],
    "richards_super": ["--loops", "4"],
    "deltablue": ["--loops", "8"],
    "go": ["--loops", "2"],
    "hexiom": ["--loops", "8"],
    "chaos": ["--loops", "3"],
    "raytrace": ["--loops", "1"],
    "nbody": ["--loops", "3"],
    "spectral_norm": ["--loops", "3"],
    "fannkuch": ["--loops", "1"],
    "float": ["--loops", "3"],
    "nqueens": ["--loops", "3"],
    "generators": ["--loops", "2"],
    "coroutines": ["--loops", "6"],
    "comprehensions": ["--loops", "10"],
    "meteor_contest": ["--loops", "3"],
    "scimark": ["--loops", "1"],
}


def prepare() -> Path:
    """The directory holding ``bm_<name>.py`` for every program (downloaded and extracted once)."""
    src = CACHE / "src"
    if all((src / f"bm_{name}.py").exists() for name in PROGRAMS):
        return src
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / f"pyperformance-{VERSION}-py3-none-any.whl"
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"pyperformance=={VERSION}",
                        "-d", str(CACHE)], check=True)
    src.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in PROGRAMS:
            data = zf.read(f"pyperformance/data-files/benchmarks/bm_{name}/run_benchmark.py")
            (src / f"bm_{name}.py").write_bytes(data)
    return src


def env() -> dict[str, str]:
    """Environment additions that let the programs import the stand-in pyperf."""
    shim = str(HERE / "pyperf_shim")
    old = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": shim + (os.pathsep + old if old else "")}
