"""Pushes never deadlock: shared nodes are written first, in a fixed order, and the parallel
transactions never lock the same two nodes (kg.stores.neo4j._plan_edges)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_kg


def _rows(tasks: int) -> dict[str, list[dict[str, object]]]:
    """Edge rows as a captured run makes them: a dataflow chain, every task informed by its run,
    associated with one agent and reading one of five files."""
    groups: dict[str, list[dict[str, object]]] = {}

    def add(rel: str, s: str, d: str, role: str) -> None:
        groups.setdefault(rel, []).append({"s": s, "d": d, "role": role, "p": {"role": role}})

    for i in range(tasks):
        t = f"t{i}"
        add("USED", t, f"t{i}/in/x", "x")
        if i:
            add("USED", t, f"t{i - 1}/out/y", "prev")
        add("USED", t, f"file{i % 5}", "read")
        add("WAS_GENERATED_BY", f"t{i}/out/y", t, "y")
        add("WAS_INFORMED_BY", t, "run", "parent")
        add("WAS_ASSOCIATED_WITH", t, "agent", "user")
    return groups


def test_parallel_edge_transactions_never_wait_on_each_other_in_a_cycle() -> None:
    from kg.stores.neo4j import WRITE_BATCH, _plan_edges

    groups = _rows(3 * WRITE_BATCH)
    first, groups_ = _plan_edges(groups)
    assert len(groups_) > 1  # the bulk still runs in parallel
    assert all(sum(len(p["rows"]) for _, p in tx) <= WRITE_BATCH for txs in groups_ for tx in txs)
    # a group's transactions run one after another on one session: as to locks, one unit
    parallel = [[stmt for tx in txs for stmt in tx] for txs in groups_]

    def rows(txs: list) -> list[tuple]:  # type: ignore[type-arg]
        return [(q.split("[e:`")[1].split("`")[0], r["s"], r["d"], r["role"])
                for tx in txs for q, params in tx for r in params["rows"]]

    every = [(rel, r["s"], r["d"], r["role"]) for rel, rs in groups.items() for r in rs]
    planned = rows(first) + rows(parallel)
    assert sorted(planned) == sorted(every)  # each row exactly once
    # A node that more than one parallel transaction locks is shared; each parallel transaction
    # holds at most one shared node, so no two of them can each hold what the other wants.
    touched: dict[str, set[int]] = {}
    for k, tx in enumerate(parallel):
        for _, s, d, _ in rows([tx]):
            touched.setdefault(s, set()).add(k)
            touched.setdefault(d, set()).add(k)
    shared = {n for n, ks in touched.items() if len(ks) > 1}
    for tx in parallel:
        assert len({e for _, s, d, _ in rows([tx]) for e in (s, d)} & shared) <= 1
    # the shared rows run first, in a fixed order
    assert rows(first) == sorted(rows(first), key=lambda r: (r[0], r[1], r[2], r[3]))


@pytest.mark.neo4j
def test_push_of_the_demo_prints_no_driver_warning(neo4j_uri: str, tmp_path: Path) -> None:
    env = {"KG_HOME": str(tmp_path / ".kg"), "KG_NEO4J_URI": neo4j_uri}
    assert run_kg("demo", "1", cwd=tmp_path, env=env).returncode == 0
    demo = tmp_path / "demo1"
    for _ in range(2):  # two runs share their files, modules and agents
        subprocess.run([sys.executable, "-m", "kg", "run", "simulation.py", "data1.dat", "data2.dat"],
                       cwd=demo, env={**os.environ, **env}, check=True, capture_output=True)
    pushed = run_kg("push", "-v", cwd=demo, env=env)
    assert pushed.returncode == 0, pushed.stderr
    lines = pushed.stderr.strip().splitlines()
    assert lines[0].startswith("pushed 2 runs"), pushed.stderr
    assert lines[1].endswith("0 transactions retried after a transient error"), pushed.stderr
    assert len(lines) == 2, pushed.stderr  # nothing else: no driver warning (retry, deadlock)
