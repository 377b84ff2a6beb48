"""Helper patterns: sub-workflows, data access, retries, calls, profiling, debugging."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kg.engine import WorkflowEngine
from kg.engine.errors import HaltProcessing, WorkflowDefinitionError, WorkflowError
from kg.engine.patterns import (
    CALLFUNC,
    DEBUG_CYCLE,
    EMPTY_CALL,
    ENG_GET,
    ENG_SET,
    ERROR,
    OBJ_GET,
    OBJ_SET,
    PROFILE,
    RUN_WF,
    TRY,
)


def add_one(obj: dict[str, Any], eng: Any) -> None:
    obj["n"] = obj.get("n", 0) + 1


def test_run_wf_runs_sub_workflow_on_the_token(make_engine: Any) -> None:
    def read_passed(obj: dict[str, Any], eng: Any) -> None:
        obj["passed"] = eng.extra_data.get("setting")
    eng = make_engine([ENG_SET("setting", 42), RUN_WF([add_one, add_one, read_passed], pass_eng=["setting"])])
    tokens = [{"n": 0}, {"n": 10}]
    eng.process(tokens)
    # The setting is passed on the first call only (the sub-engine keeps it afterwards).
    assert tokens == [{"n": 2, "passed": 42}, {"n": 12, "passed": 42}]
    sub = eng.extra_data["RUN_WF"]
    assert isinstance(sub, WorkflowEngine) and sub is not eng


def test_run_wf_data_connector_reinit_and_halt(make_engine: Any) -> None:
    seen: list[Any] = []
    eng = make_engine([RUN_WF([lambda o, e: seen.append(o)], data_connector=lambda o, e: o["items"],
                              outkey="sub", reinit=True)])
    eng.process([{"items": [1, 2]}, {"items": [3]}])
    assert seen == [1, 2, 3]
    eng = make_engine([RUN_WF([lambda o, e: e.halt("inner")]), add_one])
    with pytest.raises(HaltProcessing, match="inner"):
        eng.process([{}])
    with pytest.raises(WorkflowDefinitionError):
        RUN_WF([add_one], outkey=None, reinit=True)


def test_eng_and_obj_get_set(make_engine: Any) -> None:
    results: list[Any] = []

    def keep(getter: Any) -> Any:
        return lambda o, e: results.append(getter(o, e))
    eng = make_engine([ENG_SET("k", "v"), keep(ENG_GET("k")), keep(ENG_GET("missing")),
                       OBJ_SET("a", 1), keep(OBJ_GET("a")), keep(OBJ_GET("zz")),
                       keep(OBJ_GET(["a", "b"], cond="any")), keep(OBJ_GET(["a", "b"], cond="many")),
                       keep(OBJ_GET(["a", "b"])), EMPTY_CALL])
    tokens = [{"b": 0}]
    eng.process(tokens)
    assert results == ["v", None, 1, False, 1, {"a": 1}, False]
    assert tokens == [{"a": 1, "b": 0}] and eng.extra_data["missing"] is None


def test_try_retries_then_succeeds(make_engine: Any) -> None:
    attempts: list[int] = []

    def flaky(obj: Any, eng: Any) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise IOError("transient")
    make_engine([TRY(flaky, retry=2, verbose=False)]).process([1])
    assert len(attempts) == 3


def test_try_failure_modes(make_engine: Any) -> None:
    def always(obj: Any, eng: Any) -> None:
        raise IOError("down")
    with pytest.raises(IOError, match="down"):  # the seed silently swallowed it by default
        make_engine([TRY(always, retry=1, verbose=False)]).process([1])
    with pytest.raises(KeyError):
        make_engine([TRY(always, onfailure=KeyError, verbose=False)]).process([1])
    handled: list[Any] = []
    make_engine([TRY(always, onfailure=lambda o, e: handled.append(o), verbose=False)]).process([7])
    assert handled == [7]
    with pytest.raises(HaltProcessing):  # transitions are not retried
        make_engine([TRY(lambda o, e: e.halt(), retry=5)]).process([1])
    with pytest.raises(WorkflowDefinitionError):
        TRY([always])


def test_try_logs_each_failure(make_engine: Any, caplog: Any) -> None:
    def always(obj: Any, eng: Any) -> None:
        raise IOError("down")
    with pytest.raises(IOError):
        make_engine([TRY(always, retry=1)]).process([1])
    assert [r.getMessage() for r in caplog.records if "Error reported" in r.getMessage()] == [
        "Error reported from the call (attempt 1 of 2)", "Error reported from the call (attempt 2 of 2)"]


def test_error_pattern(make_engine: Any) -> None:
    with pytest.raises(WorkflowError, match=r"test_patterns_utils\.py : broken"):
        make_engine([ERROR("broken")]).process([1])


def multiply(a: int, b: int, scale: int = 1) -> int:
    return a * b * scale


def test_callfunc_arguments_from_token_and_engine(make_engine: Any) -> None:
    eng = make_engine([ENG_SET("b", 3), CALLFUNC(multiply, outkey="out", oeargs=["Oa", "Eb"], okeys={"scale": "s"})])
    tokens = [{"a": 2, "s": 10}, {"a": 5, "s": 1}]
    eng.process(tokens)
    # Arguments are built per call (the seed's accumulated across calls).
    assert [t["out"] for t in tokens] == [60, 15]
    by_name = make_engine([CALLFUNC("os.path.join", outkey="p", args=["a"], oeargs=["b"])])
    tokens = [{"b": "c"}]
    by_name.process(tokens)
    assert tokens[0]["p"] == "a/c"
    with pytest.raises(WorkflowError, match="not inside obj nor eng"):
        make_engine([CALLFUNC(multiply, oeargs=["nowhere"])]).process([{}])
    with pytest.raises(WorkflowDefinitionError):
        CALLFUNC("no_such_module_xyz.func")


def test_profile_to_files_and_stdout(make_engine: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "prof"
    tokens = [{"n": 0}]
    make_engine([PROFILE([add_one, add_one], output=str(out), stats=["time", "calls"])]).process(tokens)
    assert tokens == [{"n": 2}]
    assert out.exists()
    assert "add_one" in (tmp_path / "prof.stats-time").read_text()
    assert (tmp_path / "prof.stats-calls").exists()
    make_engine([PROFILE(add_one)]).process([{}])
    assert "function calls" in capsys.readouterr().out


def test_debug_cycle_repeats_until_the_stopper(make_engine: Any, capsys: Any) -> None:
    runs: list[Any] = []

    def stopper(obj: Any, eng: Any) -> bool:
        return len(runs) >= 3
    make_engine([DEBUG_CYCLE("runs.append(obj + offset)", debug_stopper=stopper, runs=runs, offset=1)]).process([1])
    assert runs == [2, 2, 2]
    assert capsys.readouterr().out.count("Execution time:") == 3
    fixed: list[Any] = []
    task = DEBUG_CYCLE("fixed.append(value['k'])", setup="value = {}", onerror="value = {'k': 'ok'}",
                       debug_stopper=lambda o, e: bool(fixed), fixed=fixed)
    make_engine([task]).process([0])
    assert fixed == ["ok"]  # failed once, then ran with the onerror code
    with pytest.raises(WorkflowDefinitionError):
        DEBUG_CYCLE("def (")
