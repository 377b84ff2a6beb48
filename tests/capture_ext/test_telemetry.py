"""Telemetry: psutil readings, and @capture.task(telemetry=True) recording start and end readings."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

import capture
from capture import telemetry


def test_reading_has_cpu_memory_disk_and_network() -> None:
    r = telemetry.read()
    for key in ("time", "cpu_user", "cpu_system", "rss", "sys_mem_used", "sys_cpu_percent"):
        assert key in r
    assert r["rss"] > 0
    assert "net_bytes_sent" in r  # /proc/net/dev always exists on Linux
    if not telemetry.gpu_available():
        assert "gpus" not in r


def test_delta_of_counters() -> None:
    a = telemetry.read()
    sum(i * i for i in range(200_000))  # burn a little CPU
    b = telemetry.read()
    d = telemetry.delta(a, b)
    assert d["time"] > 0 and d["cpu_user"] + d["cpu_system"] >= 0
    assert "sys_mem_percent" not in d  # levels are not differenced


def test_task_with_telemetry_records_start_and_end(strict_sink: Any, store: Any) -> None:
    @capture.task(telemetry=True, name="train_step")
    def train_step(n: int) -> int:
        return sum(range(n))

    with capture.Run(name="tele"):
        assert train_step(10_000) == sum(range(10_000))
    node = next(iter(store.find_nodes(name="train_step")))
    tel = node.props["telemetry"]
    assert set(tel) == {"start", "end", "delta"}
    assert tel["start"]["time"] <= tel["end"]["time"]
    assert node.props["used"] == {"n": 10_000} and node.props["generated"] == {"result": sum(range(10_000))}
    assert node.props["status"] == "FINISHED"


def test_telemetry_on_errors_and_async(strict_sink: Any, store: Any) -> None:
    @capture.task(telemetry=True, name="fails")
    def fails() -> None:
        raise KeyError("x")

    @capture.task(telemetry=True, name="coro")
    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    with capture.Run(name="tele2"):
        with pytest.raises(KeyError):
            fails()
        assert asyncio.run(coro(4)) == 8
    failed = next(iter(store.find_nodes(name="fails")))
    assert failed.props["status"] == "ERROR" and "telemetry" in failed.props
    done = next(iter(store.find_nodes(name="coro")))
    assert done.props["generated"] == {"result": 8} and "end" in done.props["telemetry"]


def test_streaming_loop_with_per_iteration_telemetry(strict_sink: Any, store: Any) -> None:
    with capture.Run(name="tl"):
        loop = capture.Loop(range(3), name="tl", telemetry=True)
        for i in loop:
            loop.end_iter({"i": i})
    its = sorted(store.find_nodes(parent=loop.id), key=lambda n: n.props["index"])
    assert len(its) == 3
    assert all("rss" in n.props["generated"]["telemetry"] and n.props["generated"]["i"] == n.props["index"]
               for n in its)
