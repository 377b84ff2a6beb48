"""Distributed capture through Redis Streams: producers publish, `kg consume` persists exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kg.exceptions import StoreError
from kg.model import edge, node
from tests.conftest import ROOT

PRODUCER = str(ROOT / "examples" / "distributed" / "producer.py")  # the shipped example


def _url(base: str, stream: str) -> str:
    return f"{base}?stream={stream}"


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url.split("?")[0])


def _records(n: int, run: str = "r1") -> tuple[list[Any], list[Any]]:
    nodes = [node(f"t-{i}", "Activity", "Task", run=run, name="work", index=i) for i in range(n)]
    edges = [edge("WAS_INFORMED_BY", f"t-{i}", f"t-{i - 1}", run=run) for i in range(1, n)]
    return nodes, edges


def test_published_records_reach_the_store(redis_server: str, store: Any) -> None:
    from capture.stream import RedisStreamStore
    from kg.consume import Consumer

    url = _url(redis_server, "s-basic")
    pub = RedisStreamStore(url, chunk=100)
    nodes, edges = _records(1_050)
    pub.write(nodes, edges)
    assert _redis(redis_server).xlen("s-basic") == 21  # 2,099 records in entries of 100
    c = Consumer(url, store, consumer="c-basic")
    stats = c.run(idle_exit=0.3)
    assert stats.records == 2_099 and stats.entries == 21
    assert store.counts() == {"nodes": 1_050, "edges": 1_049}
    assert store.get_node("t-7").props["index"] == 7
    assert _redis(redis_server).xlen("s-basic") == 0  # acknowledged entries are deleted
    with pytest.raises(StoreError):
        pub.get_node("t-1")


def test_entries_of_a_crashed_consumer_are_redelivered(redis_server: str, store: Any) -> None:
    from capture.stream import RedisStreamStore
    from kg.consume import Consumer

    url = _url(redis_server, "s-pending")
    r = _redis(redis_server)
    RedisStreamStore(url, chunk=10).write(*_records(50))
    c = Consumer(url, store, consumer="same-name")
    c.ensure_group()
    # "same-name" reads and dies before its store commits: the entries stay pending on it.
    r.xreadgroup(c.group, "same-name", {"s-pending": ">"}, count=3)
    # "other" reads and is never seen again: another consumer claims its entries once idle.
    r.xreadgroup(c.group, "other", {"s-pending": ">"}, count=2)
    stats = Consumer(url, store, consumer="same-name", claim_idle=0.0).run(idle_exit=0.3)
    assert stats.recovered == 5 and stats.entries == 10  # 99 records in entries of 10
    assert store.counts()["nodes"] == 50
    assert r.xpending("s-pending", c.group)["pending"] == 0


def test_malformed_entries_go_to_a_dead_letter_stream(redis_server: str, store: Any) -> None:
    from capture.stream import RedisStreamStore
    from kg.consume import Consumer

    url = _url(redis_server, "s-dead")
    r = _redis(redis_server)
    RedisStreamStore(url).write(*_records(3))
    r.xadd("s-dead", {b"r": b"{not json\n"})
    stats = Consumer(url, store, consumer="c-dead").run(idle_exit=0.3)
    assert stats.dead == 1 and store.counts()["nodes"] == 3
    (dead_id, fields), = r.xrange("s-dead:dead")
    assert fields[b"r"] == b"{not json\n" and b"error" in fields


def test_unreachable_redis_spools_instead_of_losing(tmp_path: Path) -> None:
    from capture.stream import RedisStreamStore
    from kg.sink import Sink, spool_path
    from kg.stores.jsonl import read_records

    sink = Sink(RedisStreamStore("redis://127.0.0.1:1/0"))  # nothing listens on port 1
    for n in _records(5)[0]:
        sink.put(n)
    sink.flush()
    assert sink.stats.spooled == 5 and sink.stats.lost == 0
    assert len(read_records(spool_path())[0]) == 5


def _consume_cmd(url: str, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kg", "consume", "--from", url, "--into", str(db), "--consumer", "svc",
            "--count", "5", "-q", *extra]


def _count(db: Path) -> int:
    from kg.stores.sqlite import SqliteStore

    if not db.exists():
        return 0
    s = SqliteStore(db)
    try:
        return sum(1 for _ in s.find_nodes(kind="Task"))
    finally:
        s.close()


def test_consumer_killed_and_restarted_loses_and_duplicates_nothing(redis_server: str, tmp_path: Path) -> None:
    producers, per = 4, 20_000
    url = _url(redis_server, "s-kill")
    db = tmp_path / "consumed.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run_id = "01234567-89ab-7cde-8f01-23456789abcd"
    procs = [subprocess.Popen([sys.executable, PRODUCER, url, run_id, str(k), str(per)], env=env,
                              cwd=tmp_path) for k in range(producers)]
    consumer = subprocess.Popen(_consume_cmd(url, db), env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while _count(db) < 15_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.send_signal(signal.SIGKILL)  # mid-stream: some entries are read but not acknowledged
        consumer.wait(timeout=30)
        killed_at = _count(db)
        assert 0 < killed_at < producers * per
        for p in procs:
            assert p.wait(timeout=120) == 0
        done = subprocess.run(_consume_cmd(url, db, "--idle-exit", "1.5"), env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    finally:
        for p in [*procs, consumer]:
            if p.poll() is None:
                p.kill()
    from kg.stores.sqlite import SqliteStore

    s = SqliteStore(db)
    try:
        tasks = list(s.find_nodes(kind="Task"))
        seen = sorted((t.props["used"]["k"], t.props["used"]["i"]) for t in tasks)
        # every record exactly once: all (producer, i) pairs, none missing, none twice
        assert seen == [(k, i) for k in range(producers) for i in range(per)]
        assert {t.props["run"] for t in tasks} == {run_id}  # run_id joined the four processes' records
        assert all(t.props["generated"]["result"] == t.props["used"]["i"] * t.props["used"]["k"] for t in tasks)
    finally:
        s.close()
    assert _redis(redis_server).xpending("s-kill", "kg-persist")["pending"] == 0


def test_consume_refuses_a_stream_as_its_target(redis_server: str) -> None:
    from tests.conftest import run_kg

    res = run_kg("consume", "--from", redis_server, "--into", redis_server, "--idle-exit", "0.1")
    assert res.returncode == 1 and "kg: error:" in res.stderr and "--into" in res.stderr
    res = run_kg("consume", "--from", "bolt://127.0.0.1:7687", "--idle-exit", "0.1")
    assert res.returncode == 1 and "redis://" in res.stderr


def test_kg_store_redis_uri_selects_the_stream_producer(redis_server: str) -> None:
    from capture.stream import RedisStreamStore
    from kg.stores import open_store

    s = open_store(f"{redis_server}?stream=s-env")
    assert isinstance(s, RedisStreamStore) and s.stream == "s-env"
    s.close()
