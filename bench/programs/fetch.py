"""Downloads the pyperformance wheel and extracts chosen benchmark programs, unchanged, into .cache/src."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["VERSION", "CACHE", "fetch", "missing"]

HERE = Path(__file__).resolve().parent
VERSION = "1.14.0"
CACHE = HERE / ".cache"
WHEEL = f"pyperformance-{VERSION}-py3-none-any.whl"
# Pinned so that every machine benchmarks the very same sources, byte for byte.
WHEEL_SHA256 = "94068ac2935b6952ccb5e8a302eb9cebc26e82454494bef6e53822738adf0049"
_INNER = "pyperformance/data-files/benchmarks"
# Files a program opens beside itself: pyflate decompresses a bzip2 tarball of its own.
DATA: dict[str, list[str]] = {"pyflate": ["data/interpreter.tar.bz2"]}


def _targets(name: str) -> dict[str, str]:
    """Member of the wheel -> path under src/ for one program (its source, then its data files)."""
    out = {f"{_INNER}/bm_{name}/run_benchmark.py": f"bm_{name}.py"}
    for rel in DATA.get(name, []):
        out[f"{_INNER}/bm_{name}/{rel}"] = rel
    return out


def missing(names: Iterable[str], cache: Path = CACHE) -> list[str]:
    """The programs among ``names`` whose files are not all in ``cache/src`` yet."""
    src = cache / "src"
    return [n for n in names if not all((src / rel).exists() for rel in _targets(n).values())]


def _wheel(cache: Path) -> Path:
    """The wheel in ``cache``, downloaded with pip (the ordinary client) when absent, hash checked."""
    path = cache / WHEEL
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        f"pyperformance=={VERSION}", "-d", str(cache)], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{path}: sha256 {digest}, expected {WHEEL_SHA256}")
    return path


def _write(dest: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so an interrupted fetch never leaves half a program."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def fetch(names: Iterable[str], cache: Path = CACHE) -> Path:
    """Extract ``bm_<name>.py`` (and its data files) for each name; returns the directory holding them."""
    src = cache / "src"
    todo = missing(names, cache)
    if todo:
        with zipfile.ZipFile(_wheel(cache)) as zf:
            for name in todo:
                for member, rel in _targets(name).items():
                    _write(src / rel, zf.read(member))
    return src


def main(argv: list[str] | None = None) -> int:
    """``python bench/programs/fetch.py [name ...]``: fetch the named programs, by default all of PROGRAMS."""
    names = sys.argv[1:] if argv is None else argv
    if not names:
        # Run as a script, this file's package is not importable by name until bench/ is on the path.
        sys.path.insert(0, str(HERE.parent))
        from programs import PROGRAMS

        names = list(PROGRAMS)
    print(fetch(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
