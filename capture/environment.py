"""Deployment: environment attributes of a trial and the modules it depended on.

Environment variables whose names look like secrets (``kg.config.settings.is_secret``)
are dropped, never stored. Modules are content-addressed entities (name, version, file,
SHA-256) shared by every trial that loaded the same file, each used by the trial."""
from __future__ import annotations

import hashlib
import locale
import os
import platform
import sys
import sysconfig
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from kg.config import settings
from kg.model import Kind, ProvClass, Relation, edge, node
from kg.stores.base import Store

__all__ = ["environment_attributes", "environment_records", "module_snapshot", "trial_modules",
           "module_records", "reuse_modules"]


def environment_attributes() -> dict[str, str]:
    """OS, machine, Python, working directory, locale and the non-secret environment variables."""
    u = platform.uname()
    attrs: dict[str, Any] = {
        "OS_NAME": u.system, "OS_RELEASE": u.release, "OS_VERSION": u.version, "MACHINE": u.machine,
        "PROCESSOR": u.processor or u.machine, "NODE": u.node, "PLATFORM": platform.platform(),
        "PYTHON_VERSION": platform.python_version(), "PYTHON_IMPLEMENTATION": platform.python_implementation(),
        "PYTHON_EXECUTABLE": sys.executable, "PYTHON_PREFIX": sys.prefix, "PYTHON_PLATFORM": sysconfig.get_platform(),
        "CWD": os.getcwd(), "PID": os.getpid(), "CPU_COUNT": os.cpu_count(),
        "ENCODING": sys.getfilesystemencoding(), "LOCALE": ".".join(x for x in locale.getlocale() if x) or "C",
    }
    for name, value in os.environ.items():
        if settings.is_secret(name):
            continue
        attrs[f"ENV:{name}"] = value
    return {k: str(v) for k, v in attrs.items() if v is not None}


def environment_records(trial_id: str, attrs: dict[str, str]) -> list[Any]:
    """One Environment entity per attribute, owned by the trial and used by it."""
    recs: list[Any] = []
    for name, value in attrs.items():
        eid = f"{trial_id}/env/{name}"
        recs.append(node(eid, ProvClass.ENTITY, Kind.ENVIRONMENT, run=trial_id, name=name, value=value))
        recs.append(edge(Relation.USED, trial_id, eid, role="environment", run=trial_id))
    return recs


def module_snapshot() -> set[str]:
    """The names of the modules loaded now (taken before the script runs)."""
    return set(sys.modules)


def trial_modules(before: set[str], imported: Iterable[str]) -> dict[str, ModuleType]:
    """The modules the script depended on: those loaded while it ran, plus those it (or a local
    module) imports that were loaded already (by provkg itself), with their submodules."""
    tops = {n.split(".")[0] for n in imported if n}
    # provkg's own lazily-imported modules are not the program's dependencies (unless it imports them).
    names = {n for n in set(sys.modules) - before if n.split(".")[0] not in ("kg", "capture") or
             n.split(".")[0] in tops}
    for n in list(sys.modules):
        if n in imported or n.split(".")[0] in tops:
            names.add(n)
    out = {}
    for n in sorted(names):
        mod = sys.modules.get(n)
        if isinstance(mod, ModuleType) and n != "__main__":
            out[n] = mod
    return out


_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep
_dists: Any = None


def _version(name: str, mod: ModuleType) -> str | None:
    global _dists
    v = getattr(mod, "__version__", None)
    if isinstance(v, str):
        return v
    top = name.split(".")[0]
    if top in getattr(sys, "stdlib_module_names", ()):
        return platform.python_version()
    import importlib.metadata as md  # only for modules without __version__ (7 ms to import)

    if _dists is None:
        try:
            _dists = md.packages_distributions()
        except Exception:
            _dists = {}
    for dist in _dists.get(top, ()):
        try:
            return md.version(dist)
        except Exception:
            continue
    return None


_hash_cache: dict[tuple[str, int, int], str] = {}


def _file_hash(path: str) -> str | None:
    try:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        h = _hash_cache.get(key)
        if h is None:
            with open(path, "rb") as fh:
                h = _hash_cache[key] = hashlib.sha256(fh.read()).hexdigest()
        return h
    except OSError:
        return None


def module_records(trial_id: str, modules: dict[str, ModuleType], is_local: Any) -> list[Any]:
    """Module entities (content-addressed, shared between trials) and the trial's USED edges."""
    recs: list[Any] = []
    for name, mod in modules.items():
        path = getattr(mod, "__file__", None)
        path = os.path.abspath(path) if isinstance(path, str) else None
        sha = _file_hash(path) if path else None
        version = _version(name, mod)
        local = bool(path and is_local(path))
        builtin = path is None
        mid = f"module:{name}:{version or ''}:{(sha or 'builtin')[:16]}"
        recs.append(node(mid, ProvClass.ENTITY, Kind.MODULE, name=name, version=version, path=path, sha256=sha,
                         local=local or None, builtin=builtin or None,
                         stdlib=bool(path and os.path.realpath(path).startswith(_STDLIB)) or None))
        recs.append(edge(Relation.USED, trial_id, mid, role="module", run=trial_id))
    return recs


def reuse_modules(store: Store, previous: str, trial_id: str) -> list[Any]:
    """``kg run -b``: the previous trial's module dependencies, reused without looking at any file."""
    recs: list[Any] = []
    for e in store.find_edges(src=previous, rel=Relation.USED.value):
        if e.props.get("role") == "module":
            recs.append(edge(Relation.USED, trial_id, e.dst, role="module", run=trial_id, reused=True))
    return recs

