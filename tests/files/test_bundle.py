"""`kg export -F bundle` and `kg load`: runs travel with their file contents without a server."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_kg

SCRIPT = """
import os
text = open("in.txt").read()
os.makedirs("out", exist_ok=True)
with open("out/upper.txt", "w") as f:
    f.write(text.upper())
with open("out/data.bin", "wb") as f:
    f.write(bytes(range(256)) * 64)
"""
FILES = ("in.txt", "s.py", "out/upper.txt", "out/data.bin")


def _env(home: Path) -> dict[str, str]:
    return {"KG_HOME": str(home), "KG_STORE": "", "PYTHONPATH": str(ROOT)}


def kg(home: Path, cwd: Path, *args: str, ok: bool = True) -> str:
    out = run_kg(*args, cwd=cwd, env=_env(home))
    if ok:
        assert out.returncode == 0, f"kg {' '.join(args)}: {out.stderr}"
        return out.stdout + out.stderr
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kg: error: "), out.stderr
    return lines[0]


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, Path]:
    """A trial captured in one KG_HOME, annotated, exported as a bundle: (the bundle, its work dir)."""
    work = tmp_path / "a"
    work.mkdir()
    (work / "in.txt").write_text("bundled\n")
    (work / "s.py").write_text(SCRIPT)
    home = tmp_path / "a-home"
    kg(home, work, "run", "s.py")
    kg(home, work, "annotate", "1", "the figure in section 3")
    path = tmp_path / "trial.kgb"
    assert "wrote" in kg(home, work, "export", "1", "-F", "bundle", "-o", str(path))
    return path, work


def _counts(home: Path, cwd: Path) -> list[str]:
    return kg(home, cwd, "info").split()[-2:]


def test_a_loaded_bundle_restores_every_file_byte_identical(bundle: tuple[Path, Path], tmp_path: Path) -> None:
    path, work = bundle
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "provkg-bundle" and len(manifest["runs"]) == 1
    assert len(manifest["contents"]) == 4  # the script, its input, its two outputs

    home, there = tmp_path / "b-home", tmp_path / "b"
    there.mkdir()
    assert "loaded" in kg(home, there, "load", str(path))
    # The same graph as the source: compact activities are not stored twice, exploded.
    assert _counts(home, there) == _counts(tmp_path / "a-home", work)
    kg(home, there, "load", str(path))
    assert _counts(home, there) == _counts(tmp_path / "a-home", work)  # loading again adds nothing
    assert "the figure in section 3" in kg(home, there, "show", "1")
    kg(home, there, "restore", "1", "--into", str(tmp_path / "copy"))
    for rel in FILES:
        assert (tmp_path / "copy" / rel).read_bytes() == (work / rel).read_bytes(), rel


def _rewrite(path: Path, change: dict[str, bytes | None]) -> None:
    """Copy the bundle with entries replaced (None: left out) or added."""
    with zipfile.ZipFile(path) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    for name, data in change.items():
        if data is None:
            entries.pop(name, None)
        else:
            entries[name] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("damage, message", [
    ("corrupt", "is corrupt"),
    ("missing", "the bundle lacks it"),
    ("escape", "unexpected entry '../evil'"),
    ("not-zip", "not a provkg bundle"),
])
def test_a_damaged_bundle_is_refused_whole(bundle: tuple[Path, Path], tmp_path: Path, damage: str,
                                           message: str) -> None:
    path, _ = bundle
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.startswith("contents/"))
        data = zf.read(name)
    if damage == "corrupt":
        _rewrite(path, {name: data[:-1] + bytes([data[-1] ^ 1])})
    elif damage == "missing":
        _rewrite(path, {name: None})
    elif damage == "escape":
        _rewrite(path, {"../evil": b"x"})
    else:
        path.write_bytes(b"PK not really")
    home, there = tmp_path / "b-home", tmp_path / "b"
    there.mkdir()
    line = kg(home, there, "load", str(path), ok=False)
    assert message in line, line
    # Refused before anything was written: no content, not even an empty store.
    assert not (home / "content").exists() or not any(p.is_file() for p in (home / "content").rglob("*"))
    assert not (home / "kg.db").exists()
