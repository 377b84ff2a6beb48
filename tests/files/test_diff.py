"""kg diff on modules and environment: trials whose Module/Environment nodes are written by hand
(the shapes `kg run` writes: Module{name, version, path, sha256, run}, Environment{name, value, run})."""
from __future__ import annotations

import json
from typing import Any

from kg.diff import diff_trials
from kg.model import Kind, ProvClass, Relation, edge, node
from kg.stores import open_store
from tests.conftest import run_kg

SHA_A, SHA_B = "a" * 64, "b" * 64


def _trial(tid: str, t0: float, modules: dict[str, tuple[str, str]], env: dict[str, str]) -> list[Any]:
    recs: list[Any] = [node(tid, ProvClass.ACTIVITY, Kind.TRIAL, run=tid, name="job.py", status="finished",
                            started=t0, ended=t0 + 1, duration=1.0, python="3.11.9")]
    for name, (version, sha) in modules.items():
        recs.append(node(f"module:{tid}:{name}", ProvClass.ENTITY, Kind.MODULE, run=tid, name=name,
                         version=version, path=f"/site/{name}/__init__.py", sha256=sha))
    for name, value in env.items():
        recs.append(node(f"env:{tid}:{name}", ProvClass.ENTITY, Kind.ENVIRONMENT, run=tid, name=name, value=value))
    return recs


def _write() -> tuple[str, str]:
    t1 = _trial("trial-1", 1000.0, {"numpy": ("1.26.0", SHA_A), "requests": ("2.31.0", SHA_A),
                                    "old": ("0.1", SHA_A)},
                {"HOME": "/root", "LANG": "C", "GONE": "x"})
    t2 = _trial("trial-2", 2000.0, {"numpy": ("1.26.0", SHA_A), "requests": ("2.32.0", SHA_A),
                                    "new": ("1.0", SHA_B)},
                {"HOME": "/root", "LANG": "C.UTF-8", "ADDED": "y"})
    # A module shared with trial 1 (e.g. `kg run -b`): reached through an edge, not a run prop.
    t2.append(edge(Relation.USED, "trial-2", "module:trial-1:old", run="trial-2", role="module"))
    with open_store() as store:
        store.write([r for r in t1 + t2 if not hasattr(r, "rel")], [r for r in t1 + t2 if hasattr(r, "rel")])
    return "trial-1", "trial-2"


def test_diff_reports_exactly_the_modules_and_environment_that_changed() -> None:
    a, b = _write()
    with open_store() as store:
        d = diff_trials(store, store.resolve_run(a), store.resolve_run(b))
    assert [(c.key, c.status) for c in d.modules] == [("new", "added"), ("requests", "changed")]
    assert d.modules[1].old["version"] == "2.31.0" and d.modules[1].new["version"] == "2.32.0"
    assert [(c.key, c.status, c.old, c.new) for c in d.environment] == [
        ("ADDED", "added", None, "y"), ("GONE", "removed", "x", None), ("LANG", "changed", "C", "C.UTF-8")]
    assert [c.key for c in d.attributes] == []  # same name, status, python, duration
    assert d.files == []


def test_diff_cli_text_brief_and_json() -> None:
    _write()
    full = run_kg("diff", "1", "2", "-m", "-e")
    assert full.returncode == 0, full.stderr
    assert "  M requests: version 2.31.0 → 2.32.0" in full.stdout
    assert "  + new: 1.0" in full.stdout and "  - GONE: x" in full.stdout and "  M LANG: C → C.UTF-8" in full.stdout
    assert "numpy" not in full.stdout and "HOME" not in full.stdout
    brief = run_kg("diff", "1", "2", "-m", "-e", "--brief").stdout
    assert "  M requests\n" in brief and "version" not in brief
    out = json.loads(run_kg("diff", "trial-1", "trial-2", "-e", "--format", "json").stdout)
    assert {c["key"] for c in out["environment"]} == {"ADDED", "GONE", "LANG"} and "modules" not in out
