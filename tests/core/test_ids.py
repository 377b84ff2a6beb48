"""Ids never collide across processes (the seed library's time-based ids did: 427 in 20,000)."""
from __future__ import annotations

import multiprocessing as mp
import os

from kg.ids import new_id, new_run_id


def _mint(n: int) -> list[str]:
    return [new_id("t") for _ in range(n)]


def test_two_processes_started_together_mint_disjoint_ids() -> None:
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        a, b = pool.map(_mint, [20_000, 20_000])
    assert len(set(a)) == 20_000 and len(set(b)) == 20_000
    assert not set(a) & set(b)


def test_forked_child_gets_its_own_prefix() -> None:
    parent = new_id("t")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(w, new_id("t").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 200).decode()
    assert child.split(".")[0] != parent.split(".")[0]


def test_run_ids_are_time_ordered_uuid7() -> None:
    ids = [new_run_id() for _ in range(100)]
    assert len(set(ids)) == 100
    assert all(i[14] == "7" for i in ids)  # version nibble
    assert ids[0][:8] <= ids[-1][:8]
