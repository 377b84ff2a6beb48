"""Prolog goals over the facts of a selection of runs, answered by SWI-Prolog through pyswip."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kg.exceptions import ConfigError, QueryError
from kg.export.prolog import PREDICATES, rules_path, write_prolog
from kg.model.records import Edge, Node

__all__ = ["PrologResult", "run_prolog"]


@dataclass
class PrologResult:
    """The solutions of a goal: one dict per solution (variable -> value); [{}] means true."""

    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return bool(self.rows)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):  # pyswip hands SWI strings back as UTF-8 bytes
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # compound terms (json("..."), pairs) and unbound variables


def _prolog() -> Any:
    try:
        from pyswip import Prolog
    except ImportError:
        raise ConfigError("`kg prolog` needs pyswip (pip install 'provkg[prolog]') and SWI-Prolog") from None
    except Exception as exc:  # pyswip raises plain errors when it cannot find libswipl
        raise ConfigError(f"pyswip could not load SWI-Prolog: {exc}") from None
    return Prolog


def run_prolog(nodes: Iterable[Node], edges: Iterable[Edge], goal: str, *, limit: int | None = None
               ) -> PrologResult:
    """Load the rules and the records' facts into SWI-Prolog and collect the solutions of ``goal``."""
    prolog_cls = _prolog()
    goal = goal.strip().rstrip(".").strip()
    if not goal:
        raise QueryError("empty Prolog goal")
    fd, path = tempfile.mkstemp(prefix="kg-facts-", suffix=".pl")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            write_prolog(nodes, edges, fh)
        engine = prolog_cls()
        # One SWI-Prolog per process: forget the facts and tables of an earlier call.
        for name, arity in PREDICATES.items():
            list(engine.query(f"retractall({name}({', '.join(['_'] * arity)}))"))
        engine.consult(str(rules_path()))
        list(engine.query("abolish_all_tables"))
        engine.consult(path)
        try:
            solutions = list(engine.query(goal, maxresult=-1 if limit is None else limit))
        except Exception as exc:  # pyswip.prolog.PrologError and friends
            text = str(exc)
            detail = text.split("Returned: ", 1)[-1].strip("'. ") if "Returned:" in text else text
            raise QueryError(f"Prolog: {detail}") from None
    finally:
        os.unlink(path)
    rows = [{k: _plain(v) for k, v in sol.items() if not k.startswith("_")} for sol in solutions]
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return PrologResult(cols, rows)
