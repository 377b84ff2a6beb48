"""Trials run in a subprocess with the file hooks; then kg restore / diff / history / dataflow / show -f."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg.stores import open_store
from tests.conftest import run_kg

DRIVER = Path(__file__).with_name("trial_driver.py")

JOB = '''\
import os, pathlib, shutil, sys
mode = sys.argv[1]
data = pathlib.Path("input.txt").read_text()
os.makedirs("out", exist_ok=True)
with open("out/result.txt", "w") as f:
    f.write(data.upper() + mode)
pathlib.Path("out/blob.bin").write_bytes(bytes(range(256)) * 10 + mode.encode())
with open("log.txt", "a") as f:
    f.write(f"run {mode}\\n")
shutil.copy("out/result.txt", "out/copy.txt")
os.replace("out/copy.txt", "moved.txt")
print("done", mode)
'''


def trial(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, str(DRIVER), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def kg(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = run_kg(*args)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def two_trials(tmp_path: Path) -> Path:
    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "input.txt").write_text("first input")
    assert trial(tmp_path, "job.py", "one").stdout == "done one\n"
    (tmp_path / "input.txt").write_text("second input")
    trial(tmp_path, "job.py", "two")
    return tmp_path


def expected_trial1() -> dict[str, bytes]:
    return {"input.txt": b"first input", "out/result.txt": b"FIRST INPUTone",
            "out/blob.bin": bytes(range(256)) * 10 + b"one", "log.txt": b"run one\n",
            "moved.txt": b"FIRST INPUTone", "job.py": JOB.encode()}


def test_restore_makes_the_files_byte_identical_again(two_trials: Path) -> None:
    d = two_trials
    (d / "out/result.txt").unlink()
    (d / "out/blob.bin").write_bytes(b"garbage")
    (d / "moved.txt").unlink()
    (d / "job.py").write_text("print('edited')\n")
    with open(d / "log.txt", "a") as f:
        f.write("manual edit\n")
    r = kg("restore", "1")
    assert "restored" in r.stdout
    for name, data in expected_trial1().items():
        assert (d / name).read_bytes() == data, name
    assert not (d / "out/copy.txt").exists()  # the trial moved it away: a restore deletes nothing, adds nothing
    # The restore is recorded and is the base of the next trial.
    with open_store() as store:
        t1, t2 = [t for t in store.runs() if t.kind == "Trial"]
        restores = list(store.find_nodes(kind="Restore"))
        assert len(restores) == 1 and restores[0].props["trial"] == t1.id
        assert any(e.dst == t1.id for e in store.find_edges(src=restores[0].id, rel="WAS_INFORMED_BY"))
        assert store.get_node(t1.id).props["base_of_next"] is True
        assert not store.get_node(t2.id).props.get("base_of_next")
    # What the restore overwrote was kept: restoring trial 2's blob brings back its bytes too.
    kg("restore", "2", "-f", "out/blob.bin", "-t", "blob2.bin")
    assert (d / "blob2.bin").read_bytes() == bytes(range(256)) * 10 + b"two"


def test_restore_options(two_trials: Path) -> None:
    d = two_trials
    (d / "job.py").write_text("edited\n")
    (d / "out/result.txt").write_text("edited\n")
    kg("restore", "1", "-s")  # files but not the script
    assert (d / "job.py").read_text() == "edited\n"
    assert (d / "out/result.txt").read_bytes() == b"FIRST INPUTone"
    kg("restore", "1", "-a")  # the script but not the files
    assert (d / "job.py").read_text() == JOB
    # One file, by access number (kg show -f numbers them), to another place.
    r = kg("restore", "2", "-n")  # dry run: says what it would do, changes nothing
    assert "would restore" in r.stdout and (d / "job.py").read_text() == JOB
    assert (d / "input.txt").read_text() == "first input"
    kg("restore", "2", "-f", "input.txt", "-t", "input2.txt")
    assert (d / "input2.txt").read_text() == "second input"
    kg("restore", "2", "-i", "1", "-t", "first-access.txt")  # access 1 of trial 2: reading input.txt
    assert (d / "first-access.txt").read_text() == "second input"
    r = kg("restore", "1", "-f", "nope.txt", ok=False)
    assert r.returncode == 1 and "did not access" in r.stderr
    r = kg("restore", "1", "-t", "x", ok=False)
    assert r.returncode == 1


def test_diff_reports_exactly_the_files_that_changed(two_trials: Path) -> None:
    out = json.loads(kg("diff", "1", "2", "-f", "--format", "json").stdout)
    changed = {os.path.relpath(c["key"], two_trials): c["status"] for c in out["files"]}
    assert changed == {"input.txt": "changed", "out/result.txt": "changed", "out/blob.bin": "changed",
                       "log.txt": "changed", "moved.txt": "changed"}
    kg("restore", "1")
    trial(two_trials, "job.py", "one")  # trial 3: same as trial 1 except that log.txt grew
    out = json.loads(kg("diff", "1", "3", "-f", "--format", "json").stdout)
    assert [os.path.relpath(c["key"], two_trials) for c in out["files"]] == ["log.txt"]
    text = kg("diff", "1", "2", "-f", "--brief").stdout
    assert "  M input.txt" in text and "files: 5 changed" in text


def test_history_show_files_and_dataflow(two_trials: Path, graphviz_dot: str) -> None:
    kg("restore", "1")
    trial(two_trials, "job.py", "three")
    lines = kg("history").stdout.splitlines()
    assert lines[0].startswith("*  [*] 3 ") and "(based on 1, restored)" in lines[0]
    assert lines[1].startswith("| *  [*] 2 ")
    assert lines[2] == "|/"
    assert lines[3].startswith("*  [*] 1 ")
    hist = json.loads(kg("history", "--format", "json").stdout)
    assert [h["parent"] for h in hist] == [None, hist[0]["id"], hist[0]["id"]]
    # kg show -f (the renderer other commands call)
    from kg.cli._options import Ctx
    from kg.cli.cmd_trials import file_rows

    ctx = Ctx(None)
    try:
        rows = file_rows(ctx, ctx.store.resolve_run("1"))
    finally:
        ctx.close()
    assert [(r["op"], r["path"]) for r in rows] == [
        ("read_text", "input.txt"), ("mkdir", "out"), ("open", "out/result.txt"), ("write_bytes", "out/blob.bin"),
        ("open", "log.txt"), ("copy", "out/copy.txt"), ("replace", "moved.txt")]
    dot = kg("dataflow", "1", "--calls").stdout
    svg = subprocess.run([graphviz_dot, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert svg.returncode == 0, svg.stderr
    for name in ("input.txt", "result.txt", "blob.bin", "moved.txt", "trial 1"):
        assert name in svg.stdout


def test_unknown_trial_is_one_line_error(tmp_path: Path) -> None:
    for args in (("restore", "9"), ("diff", "1", "2"), ("dataflow", "x")):
        r = kg(*args, ok=False)
        assert r.returncode == 1 and r.stderr.startswith("kg: error:") and len(r.stderr.splitlines()) == 1


STDLIB_RUNS = [
    # (module args, files it writes)
    (["-m", "zipfile", "-c", "out.zip", "a.txt", "b.bin"], ["out.zip"]),
    (["-m", "tarfile", "-c", "out.tar", "a.txt", "b.bin"], ["out.tar"]),
    (["-m", "json.tool", "in.json", "out.json"], ["out.json"]),
    (["-m", "gzip", "a.txt"], ["a.txt.gz"]),
    (["-m", "json.tool", "missing.json"], []),  # fails: same message, same exit code
]


def _members(name: str, data: bytes) -> object:
    import gzip
    import io
    import tarfile
    import zipfile

    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {n: z.read(n) for n in z.namelist()}
    if name.endswith(".tar"):
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}  # type: ignore[union-attr]
    if name.endswith(".gz"):
        return gzip.decompress(data)
    return data


@pytest.mark.parametrize("argv,outputs", STDLIB_RUNS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_stdlib_modules_behave_the_same_with_hooks(tmp_path: Path, argv: list[str], outputs: list[str]) -> None:
    results = []
    for mode in ("plain", "hooked"):
        d = tmp_path / mode
        d.mkdir()
        (d / "a.txt").write_text("alpha\n" * 100)
        (d / "b.bin").write_bytes(bytes(range(256)))
        (d / "in.json").write_text('{"b": [1, 2], "a": "x"}')
        cmd = [sys.executable, *argv] if mode == "plain" else [sys.executable, str(DRIVER), *argv]
        r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=120)
        files = {name: (d / name).read_bytes() for name in outputs}
        results.append((r.returncode, r.stdout, r.stderr.replace(str(d), "D"), files))
    plain, hooked = results
    assert hooked[0] == plain[0] and hooked[1] == plain[1]
    if plain[0]:
        assert hooked[2].strip().splitlines()[-1] == plain[2].strip().splitlines()[-1]
    for name in outputs:  # archives embed mtimes: compare their members
        assert _members(name, hooked[3][name]) == _members(name, plain[3][name])
    with open_store() as store:
        accessed = {os.path.basename(str(a.props["path"])) for a in store.find_nodes(kind="FileAccess")}
    assert set(outputs) <= accessed


def test_a_restore_that_cannot_find_contents_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    (tmp_path / "job.py").write_text(JOB)
    (tmp_path / "input.txt").write_text("first input")
    monkeypatch.setenv("KG_CONTENT_LIMIT", "1000")  # blob.bin (2,563 bytes) is above it
    trial(tmp_path, "job.py", "one")
    monkeypatch.delenv("KG_CONTENT_LIMIT")
    (tmp_path / "out/blob.bin").unlink()
    r = kg("restore", "1")
    assert "blob.bin cannot be restored: never kept: 2,563 bytes, above the content size limit" in r.stderr
    assert (tmp_path / "out/result.txt").read_bytes() == b"FIRST INPUTone"  # the others were restored
    # Contents kept when captured but gone from this content store (another KG_HOME, or removed):
    home = Path(os.environ["KG_HOME"])
    shutil.rmtree(home / "content")
    r = kg("restore", "1")
    assert "result.txt cannot be restored: kept when captured, but not in" in r.stderr
    assert "above the content size limit" not in r.stderr.split("result.txt", 1)[1].splitlines()[0]


def test_an_older_trial_keeps_its_file_relations(tmp_path: Path) -> None:
    """Trial 1 and trial 2 read and write the same contents: trial 1's file lineage survives."""
    (tmp_path / "job.py").write_text("data = open('in.txt').read()\nopen('out.txt', 'w').write(data.upper())\n")
    (tmp_path / "in.txt").write_text("hello\n")
    for _ in range(2):
        assert run_kg("run", "job.py", cwd=tmp_path).returncode == 0
    want = [str(tmp_path / "in.txt"), str(tmp_path / "out.txt")]
    for trial_no in ("1", "2"):
        rows = json.loads(kg("prolog", "file_influence(F,T)", trial_no, "-F", "json").stdout)
        assert [[r["F"].removeprefix("file:"), r["T"].removeprefix("file:")] for r in rows] == [want], trial_no
        rows = json.loads(kg("sparql", "file-influence", trial_no, "-F", "json").stdout)
        assert [[r["from"].removeprefix("file:"), r["to"].removeprefix("file:")] for r in rows] == [want], trial_no
