"""Machine telemetry around tasks: CPU, memory, disk and network counters (psutil), GPUs (NVML).

``read()`` takes one reading; ``@capture.task(telemetry=True)`` records a reading at the
start and at the end of each call in the task's ``telemetry`` prop:

    {"start": {...}, "end": {...}, "delta": {"cpu_user": s, "disk_read_bytes": n, ...}}

A reading of this process's counters costs tens of microseconds; the system-wide ones
(about 0.5 ms of /proc reads) are sampled at most every ``SYSTEM_TTL`` seconds and shared
(see bench/bench_telemetry.py). Telemetry is for tasks of milliseconds or more, not tight loops.
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

from capture._state import current_parent, put as _put, task_id
from kg.config import settings
from kg.model import Node, ProvClass

__all__ = ["read", "delta", "gpu_available", "with_telemetry"]

_ACT = ProvClass.ACTIVITY.value

log = logging.getLogger("kg.telemetry")

_proc: psutil.Process | None = None
_proc_pid = 0
_nvml: Any = None          # the pynvml module once initialised, False when unavailable
_nvml_lock = threading.Lock()
_gpu_handles: list[Any] = []


def _process() -> psutil.Process:
    global _proc, _proc_pid
    pid = os.getpid()
    if _proc is None or _proc_pid != pid:  # a forked child reads its own counters
        _proc, _proc_pid = psutil.Process(pid), pid
    return _proc


def _init_nvml() -> Any:
    """pynvml initialised once, or False (no library, no driver, no GPU): checked once per process."""
    global _nvml
    if _nvml is not None:
        return _nvml
    with _nvml_lock:
        if _nvml is None:
            try:
                import pynvml

                pynvml.nvmlInit()
                count = pynvml.nvmlDeviceGetCount()
                _gpu_handles[:] = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
                _nvml = pynvml if count else False
            except Exception as exc:  # ImportError, NVMLError (no driver): no GPU telemetry
                log.debug("no GPU telemetry: %s", exc)
                _nvml = False
    return _nvml


def gpu_available() -> bool:
    """True when NVML found at least one GPU."""
    return bool(_init_nvml())


def _gpus(nvml: Any) -> list[dict[str, Any]]:
    out = []
    for i, h in enumerate(_gpu_handles):
        g: dict[str, Any] = {"index": i}
        try:
            util = nvml.nvmlDeviceGetUtilizationRates(h)
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            g.update(gpu_percent=util.gpu, mem_percent=util.memory, mem_used=int(mem.used), mem_total=int(mem.total))
            g["power_mw"] = nvml.nvmlDeviceGetPowerUsage(h)
            g["temperature"] = nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)
        except Exception:  # some counters are unsupported on some boards: keep what was read
            pass
        out.append(g)
    return out


SYSTEM_TTL = 0.1  # seconds a system-wide sample is reused (see read())
_sys_cache: dict[str, Any] = {}
_sys_time = 0.0
_sys_lock = threading.Lock()


def _system(now: float) -> dict[str, Any]:
    """System-wide CPU, memory, disk, network and GPU counters, sampled at most every SYSTEM_TTL seconds."""
    global _sys_cache, _sys_time
    if now - _sys_time < SYSTEM_TTL:
        return _sys_cache
    r: dict[str, Any] = {"sys_time": now}
    # cpu_percent(None) compares with the previous call: no sleeping on the caller's thread.
    r["sys_cpu_percent"] = psutil.cpu_percent(None)
    vm = psutil.virtual_memory()
    r.update(sys_mem_used=vm.used, sys_mem_available=vm.available, sys_mem_percent=vm.percent)
    try:
        d = psutil.disk_io_counters(nowrap=False)
        if d is not None:
            r.update(disk_read_bytes=d.read_bytes, disk_write_bytes=d.write_bytes,
                     disk_read_count=d.read_count, disk_write_count=d.write_count)
    except (OSError, RuntimeError):
        pass
    try:
        n = psutil.net_io_counters(nowrap=False)
        if n is not None:
            r.update(net_bytes_sent=n.bytes_sent, net_bytes_recv=n.bytes_recv,
                     net_packets_sent=n.packets_sent, net_packets_recv=n.packets_recv)
    except OSError:
        pass
    nvml = _nvml if _nvml is not None else _init_nvml()
    if nvml:
        r["gpus"] = _gpus(nvml)
    with _sys_lock:
        _sys_cache, _sys_time = r, now
    return r


def read() -> dict[str, Any]:
    """One telemetry reading (flat numbers): this process's CPU time, memory, block I/O and threads,
    read fresh; system-wide CPU, memory, disk, network and GPU counters, sampled at most every
    ``SYSTEM_TTL`` seconds (they cost ~0.5 ms to read here and are machine-wide anyway, so a
    task shorter than that sees a zero system delta)."""
    now = time.time()
    ut = os.times()
    r: dict[str, Any] = {"time": now, "cpu_user": ut.user, "cpu_system": ut.system,
                         "rss": _process().memory_info().rss, "threads": threading.active_count()}
    if resource is not None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        r.update(max_rss=ru.ru_maxrss * 1024, io_read_blocks=ru.ru_inblock, io_write_blocks=ru.ru_oublock)
    r.update(_system(now))
    return r


# Counters whose difference end - start is meaningful (the others are levels).
_COUNTERS = ("time", "cpu_user", "cpu_system", "io_read_blocks", "io_write_blocks", "disk_read_bytes",
             "disk_write_bytes", "disk_read_count", "disk_write_count", "net_bytes_sent", "net_bytes_recv",
             "net_packets_sent", "net_packets_recv", "rss")


def delta(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """``end - start`` for the counters present in both readings."""
    return {k: end[k] - start[k] for k in _COUNTERS if k in start and k in end}


def _record(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    return {"telemetry": {"start": start, "end": end, "delta": delta(start, end)}}


def with_telemetry(fn: Callable[..., Any], spec: Any) -> Callable[..., Any]:
    """Wrap ``fn`` (inside the task wrapper) to take a reading before and after each call.

    The readings are merged into the task's node as an upsert of the same id: the task
    wrapper around us has already made this call's task the current parent, so its id
    is known without touching the task record's layout (``@capture.task(telemetry=True)``)."""
    kind = getattr(spec, "kind", "Task")

    def emit(n: int, start: dict[str, Any] | None) -> None:
        if start is None or not n:
            return
        try:
            _put(Node(task_id(n), _ACT, kind, _record(start, read())))
        except Exception:  # capture must never break the call
            if settings.strict:
                raise

    def begin() -> dict[str, Any] | None:
        if not settings.enabled:
            return None
        try:
            return read()
        except Exception:
            if settings.strict:
                raise
            return None

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def atelemetry(*args: Any, **kwargs: Any) -> Any:
            n = current_parent.get()
            start = begin()
            try:
                return await fn(*args, **kwargs)
            finally:
                emit(n, start)
        return atelemetry

    @functools.wraps(fn)
    def telemetry(*args: Any, **kwargs: Any) -> Any:
        n = current_parent.get()
        start = begin()
        try:
            return fn(*args, **kwargs)
        finally:
            emit(n, start)
    return telemetry
