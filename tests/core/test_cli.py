"""The kg command line on a real captured run: list, show, lineage, export, load, errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pytest

from kg.cli import cli
from tests.conftest import ROOT, run_kg

QUICKSTART = ROOT / "examples" / "quickstart.py"


@pytest.fixture
def captured(tmp_path: Path) -> Path:
    """The quickstart example captured into ./.kg of a fresh directory."""
    import subprocess

    subprocess.run([sys.executable, str(QUICKSTART), "--n", "200"], cwd=tmp_path, check=True,
                   capture_output=True, env={**__import__("os").environ, "KG_HOME": str(tmp_path / ".kg")})
    return tmp_path


def test_list_and_show(captured: Path) -> None:
    out = run_kg("list", cwd=captured)
    assert out.returncode == 0, out.stderr
    assert "quickstart" in out.stdout and "finished" in out.stdout
    show = run_kg("show", "1", cwd=captured)
    assert show.returncode == 0, show.stderr
    assert "simulate(n=200, seed=42)" in show.stdout
    assert "ValueError: learning rate must be positive" in show.stdout
    rows = json.loads(run_kg("list", "--format", "json", cwd=captured).stdout)
    assert rows[0]["#"] == 1 and rows[0]["status"] == "finished"


def test_unknown_run_is_a_one_line_error(captured: Path) -> None:
    out = run_kg("show", "nosuchrun", cwd=captured)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == ["kg: error: no run 'nosuchrun' (see `kg list`)"]


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00garbage" * 500)
    out = run_kg("--store", str(bad), "list", cwd=tmp_path)
    assert out.returncode == 1 and "not a provkg store" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_lineage_up_and_down(captured: Path) -> None:
    doc = json.loads(run_kg("export", "1", cwd=captured).stdout)
    mean = next(k[3:] for k in doc["entity"] if k.endswith("/out/mean"))
    up = json.loads(run_kg("lineage", mean, "--up", "--format", "json", cwd=captured).stdout)
    names = {r["name"] for r in up}
    assert {"summarize", "samples", "simulate", "n", "seed"} <= names
    seed = next(k[3:] for k in doc["entity"] if k.endswith("/in/seed"))
    down = json.loads(run_kg("lineage", seed, "--down", "--format", "json", cwd=captured).stdout)
    assert {"simulate", "samples", "summarize", "mean", "std"} <= {r["name"] for r in down}


def test_provjson_export_loads_in_prov_with_the_same_records(captured: Path, tmp_path: Path) -> None:
    from prov.model import ProvDocument

    out = tmp_path / "run.json"
    res = run_kg("export", "1", "--format", "provjson", "-o", str(out), cwd=captured)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    ours = json.loads(text)
    doc = ProvDocument.deserialize(content=text, format="json")
    records = list(doc.get_records())
    n_ours = sum(len(ours.get(s, {})) for s in ours if s != "prefix")
    assert len(records) == n_ours
    kinds = {str(a) for r in records for a in r.get_asserted_types()}
    assert {"kg:Task", "kg:Value", "kg:Run", "kg:Person", "prov:Person"} <= kinds
    tasks = [r for r in doc.get_records() if "kg:Task" in {str(t) for t in r.get_asserted_types()}]
    assert len(tasks) == 7 and all(t.get_startTime() is not None for t in tasks)


def test_offline_jsonl_capture_then_load(tmp_path: Path) -> None:
    import os
    import subprocess

    spool = tmp_path / "offline.jsonl"
    env = {**os.environ, "KG_STORE": str(spool), "KG_HOME": str(tmp_path / ".kg")}
    subprocess.run([sys.executable, str(QUICKSTART), "--n", "50"], cwd=tmp_path, check=True, env=env,
                   capture_output=True)
    text = spool.read_text()
    assert text.count("\n") > 10 and text.count('"name":"train_step"') == 4
    first = run_kg("load", str(spool), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    counts = json.loads(run_kg("info", "--format", "json", cwd=tmp_path).stdout)[0]
    again = run_kg("load", str(spool), cwd=tmp_path)
    assert again.returncode == 0
    assert json.loads(run_kg("info", "--format", "json", cwd=tmp_path).stdout)[0] == counts  # idempotent
    assert "quickstart" in run_kg("list", cwd=tmp_path).stdout


def test_malformed_line_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    good = '{"type": "node", "id": "a", "cls": "Entity", "kind": "Value", "props": {}}\n'
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good + good.replace('"a"', '"b"') + "{not json\n" + good.replace('"a"', '"c"'))
    out = run_kg("load", str(bad), cwd=tmp_path)
    assert out.returncode == 1
    assert f"{bad}:3: not valid JSON" in out.stderr
    info = run_kg("info", "--format", "json", cwd=tmp_path)
    # nothing written: not even an empty store is left behind
    assert info.returncode == 1 and "no store at" in info.stderr
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(good + '{"type": "edge", "rel": "USES", "src": "a", "dst": "b"}\n')
    out = run_kg("load", str(wrong), cwd=tmp_path)
    assert out.returncode == 1 and ":2:" in out.stderr and "USES" in out.stderr


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
    return out


@pytest.mark.parametrize("name,cmd", _commands(cli), ids=[n for n, _ in _commands(cli)])
def test_every_command_is_documented_with_an_example(name: str, cmd: click.Command) -> None:
    assert cmd.help and len(cmd.help.strip().splitlines()[0]) > 10, f"kg {name} has no summary"
    if not isinstance(cmd, click.Group):
        assert "Example" in cmd.help, f"kg {name} --help has no example"
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"kg {name} {param.opts[0]} has no help"


def test_export_help_lists_every_registered_format() -> None:
    # `kg export --help` names the formats without importing the exporters (start-up cost).
    from kg.cli.cmd_io import FORMATS
    from kg.export import EXPORTERS

    assert tuple(sorted(EXPORTERS)) == FORMATS


def test_kg_run_does_not_import_what_it_does_not_use(tmp_path: Path) -> None:
    # Every module imported at start-up is paid by every `kg run` (the bench's call_heavy runs
    # 0.07 s; start-up was 0.3 s with these). They are imported by the commands that use them.
    import subprocess

    (tmp_path / "probe.py").write_text(
        "import sys\nprint(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'psutil', 'kg', 'tomllib', 'importlib'))))\n")
    out = subprocess.run([sys.executable, "-m", "kg", "run", "probe.py"], cwd=tmp_path, check=True,
                         capture_output=True, text=True,
                         env={**__import__("os").environ, "KG_HOME": str(tmp_path / ".kg")}).stdout.split()
    for heavy in ("sqlalchemy", "psutil", "kg.export", "kg.restore", "kg.diff", "tomllib", "importlib.metadata"):
        assert heavy not in out, f"kg run imported {heavy}"
    assert "kg.stores.sqlite" in out  # the probe sees the modules of the process it runs in


def test_a_read_command_on_a_store_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "x.db"
    for args in (["list"], ["show", "1"], ["info"], ["export", "--all"]):
        r = run_kg("--store", str(missing), *args)
        assert r.returncode == 1 and r.stderr.startswith("kg: error: no store at"), (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()  # nothing was created on the way
    r = run_kg("--store", str(missing), "load", str(tmp_path / "none.jsonl"))
    assert r.returncode != 0 and not missing.exists()  # a bad input file writes nothing, store included


def test_kg_load_skip_bad_loads_the_good_records_and_names_each_bad_line(tmp_path: Path) -> None:
    from kg.exceptions import InputError
    from kg.model import Node
    from kg.stores.jsonl import JsonlStore

    capture_file = tmp_path / "offline.jsonl"
    offline = JsonlStore(capture_file)
    offline.write([Node("good-1", "Entity", "Value", {"v": 1})])
    with pytest.raises(InputError):  # refused at write time: the file is never poisoned by the writer
        offline.write([Node("good-2", "Entity", "Value", {}), Node("bad", "Thing", "Value", {})])
    lines = capture_file.read_text().splitlines()
    assert len(lines) == 1  # nothing of the refused batch was appended
    with capture_file.open("a") as fh:  # damage from elsewhere: a cut line and a foreign record
        fh.write('{"type": "node", "id": "cut"\n{"type": "thing"}\n')
        fh.write('{"type": "node", "id": "good-3", "cls": "Entity", "kind": "Value", "props": {}}\n')
    store = tmp_path / "kg.db"
    r = run_kg("--store", str(store), "load", str(capture_file))
    assert r.returncode == 1 and ":2: not valid JSON" in r.stderr and not store.exists()
    r = run_kg("--store", str(store), "load", "--skip-bad", str(capture_file))
    assert r.returncode == 0, r.stderr
    assert "offline.jsonl:2: not valid JSON" in r.stderr and "offline.jsonl:3: record type" in r.stderr
    assert "loaded 2 nodes and 0 edges" in r.stderr and "2 bad lines skipped" in r.stderr
    from kg.stores.sqlite import SqliteStore

    with SqliteStore(store) as s:
        assert s.get_node("good-1") is not None and s.get_node("good-3") is not None


def test_tables_never_cut_an_id_and_json_round_trips_it(tmp_path: Path) -> None:
    """A 200-character id printed by a table can be copied into the next command; text is cut
    visibly (…) unless --wide; -F json and -F csv hold every value in full."""
    a = "file/" + "a" * 190 + "/v0001"
    b = "file/" + "b" * 190 + "/v0002"
    note = "a long description with spaces " * 4
    lines = [{"type": "node", "id": a, "cls": "Entity", "kind": "FileVersion", "props": {"name": note}},
             {"type": "node", "id": b, "cls": "Entity", "kind": "FileVersion", "props": {"name": "b"}},
             {"type": "edge", "rel": "WAS_DERIVED_FROM", "src": b, "dst": a, "props": {}}]
    src = tmp_path / "long.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert run_kg("load", str(src), cwd=tmp_path).returncode == 0
    table = run_kg("lineage", b, "--up", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert a in table.stdout.split()  # the whole id, a word of its own
    assert note.strip() not in table.stdout and "…" in table.stdout  # text cut, and says so
    wide = run_kg("lineage", b, "--up", "--wide", cwd=tmp_path).stdout
    assert note.strip() in wide
    rows = json.loads(run_kg("lineage", b, "--up", "-F", "json", cwd=tmp_path).stdout)
    by_id = {r["id"]: r for r in rows}
    assert a in by_id and by_id[a]["name"] == note
    again = json.loads(run_kg("lineage", by_id[a]["id"], "--down", "-F", "json", cwd=tmp_path).stdout)
    assert b in {r["id"] for r in again}  # the id read back from JSON works as an argument
    csv_out = run_kg("lineage", b, "--up", "-F", "csv", cwd=tmp_path).stdout
    assert a in csv_out and note in csv_out
