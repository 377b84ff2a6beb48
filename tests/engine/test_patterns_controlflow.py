"""Control-flow patterns, each on the bare loop and on the per-task path."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from kg.engine import WorkflowEngine
from kg.engine.errors import HaltProcessing, WorkflowDefinitionError, WorkflowError
from kg.engine.patterns import (
    BREAK,
    CHOICE,
    CMP,
    FOR,
    HALT,
    IF,
    IF_ELSE,
    IF_NOT,
    OBJ_JUMP_BWD,
    OBJ_JUMP_FWD,
    OBJ_NEXT,
    PARALLEL_SPLIT,
    SIMPLE_MERGE,
    STOP,
    SYNCHRONIZE,
    TASK_JUMP_BWD,
    TASK_JUMP_FWD,
    TASK_JUMP_IF,
    WHILE,
)


def append(value: Any) -> Any:
    def task(obj: list[Any], eng: Any) -> None:
        obj.append(value)
    task.__name__ = f"append_{value}"
    return task


def append_var(key: str) -> Any:
    def task(obj: list[Any], eng: Any) -> None:
        obj.append(eng.extra_data[key])
    return task


def is_even(obj: list[Any], eng: Any) -> bool:
    return obj[0] % 2 == 0


def run(make_engine: Any, workflow: Any, tokens: list[Any]) -> list[Any]:
    make_engine(workflow).process(tokens)
    return tokens


def test_if_if_not(make_engine: Any) -> None:
    tokens = run(make_engine, [IF(is_even, [append("even")]), IF_NOT(is_even, append("odd")), append("end")],
                 [[0], [1]])
    assert tokens == [[0, "even", "end"], [1, "odd", "end"]]


def test_if_else_with_list_and_tuple_branches(make_engine: Any) -> None:
    # Tuple branches shifted the seed's jump offsets; both spellings work here.
    tokens = run(make_engine, [IF_ELSE(is_even, (append("a"), append("b")), [append("c"), append("d")]),
                               append("end")], [[0], [1]])
    assert tokens == [[0, "a", "b", "end"], [1, "c", "d", "end"]]
    with pytest.raises(WorkflowDefinitionError):
        IF_ELSE(is_even, None, [append("x")])


def test_while(make_engine: Any) -> None:
    tokens = run(make_engine, [WHILE(lambda o, e: len(o) < 4, [append("w")]), append("end")], [[0], [0, 1, 2, 3]])
    assert tokens == [[0, "w", "w", "w", "end"], [0, 1, 2, 3, "end"]]


@pytest.mark.parametrize("op,a,b,expected", [
    ("eq", 1, 1, True), ("==", 1, 2, False), ("gt", 2, 1, True), (">", 1, 2, False),
    ("gte", 2, 2, True), (">=", 1, 2, False), ("lt", 1, 2, True), ("<", 2, 1, False),
    ("lte", 2, 2, True), ("<=", 3, 2, False), ("in", [1, 2], 2, True), ("in", [1, 2], 3, False),
])
def test_cmp(op: str, a: Any, b: Any, expected: bool) -> None:
    assert CMP(a, b, op)(None, None) is expected


def test_cmp_calls_callables_and_rejects_unknown_operators() -> None:
    assert CMP(lambda o, e: lambda o2, e2: o + 1, 3, "==")(2, None) is True
    with pytest.raises(WorkflowDefinitionError):
        CMP(1, 2, "~")


def test_for_iterates_and_keeps_last_value(make_engine: Any) -> None:
    eng = make_engine([FOR(range(3), "i", [append_var("i")]), append_var("i")])
    tokens = [[], ["x"]]
    eng.process(tokens)
    # The seed raised KeyError('previous_data') at the end of every loop.
    assert tokens == [[0, 1, 2, 2], ["x", 0, 1, 2, 2]]
    assert eng.extra_data["_Iterators"] == {}


def test_for_descending_callable_and_custom_setter(make_engine: Any) -> None:
    seen: list[Any] = []

    def setter(obj: Any, eng: Any, step: str, value: Any) -> None:
        seen.append((step, value))
        eng.extra_data["v"] = value * 10
    eng = make_engine([FOR(lambda o, e: o[:2], setter, append_var("v"), order="DSC")])
    tokens = [[1, 2]]
    eng.process(tokens)
    assert tokens == [[1, 2, 20, 10]]
    assert [v for _, v in seen] == [2, 1] and seen[0][0] == "[0, 0]"


def test_for_list_is_dynamic_unless_cached(make_engine: Any) -> None:
    source = [1, 2]

    def grow(obj: list[Any], eng: Any) -> None:
        obj.append(eng.extra_data["i"])
        if len(source) < 4:
            source.append(len(source) + 1)
    tokens = [[]]
    make_engine([FOR(lambda o, e: source, "i", grow)]).process(tokens)
    assert tokens == [[1, 2, 3, 4]]
    source[:] = [1, 2]
    tokens = [[]]
    make_engine([FOR(lambda o, e: source, "i", grow, cache_data=True)]).process(tokens)
    assert tokens == [[1, 2]]


def test_for_empty_generator_and_nested(make_engine: Any) -> None:
    tokens = [[]]
    make_engine([FOR([], "i", append("never")), FOR((x for x in "ab"), "o", [
        FOR([1, 2], "n", [lambda o, e: o.append(e.extra_data["o"] + str(e.extra_data["n"]))])])]).process(tokens)
    assert tokens == [["a1", "a2", "b1", "b2"]]
    tokens = [[]]
    make_engine([FOR((x for x in "ab"), "o", append_var("o"))] * 1).process(tokens)
    with pytest.raises(WorkflowDefinitionError):
        FOR(42, "i", [])
    with pytest.raises(WorkflowDefinitionError):
        FOR([1], "i", [], order="UP")


def test_for_halt_inside_resumes_with_next_item(make_engine: Any) -> None:
    def halt_at_1(obj: list[Any], eng: Any) -> None:
        if eng.extra_data["i"] == 1 and "halted" not in eng.extra_data:
            eng.extra_data["halted"] = True
            eng.halt("at 1")
    eng = make_engine([FOR(range(3), "i", [append_var("i"), halt_at_1]), append("end")])
    tokens: list[list[Any]] = [[], []]
    with pytest.raises(HaltProcessing):
        eng.process(tokens)
    assert eng.state.callback_pos == [0, 2]
    eng.restart("current", "next")
    assert tokens == [[0, 1, 2, "end"], [0, 1, 2, "end"]]


def test_for_state_of_a_halted_token_does_not_leak_into_the_next(make_engine: Any) -> None:
    def halt_on_first(obj: list[Any], eng: Any) -> None:
        if obj and obj[0] == "first" and eng.extra_data["i"] == 1:
            eng.halt()
    eng = make_engine([FOR(range(3), "i", [append_var("i"), halt_on_first])])
    tokens: list[list[Any]] = [["first"], ["second"]]
    with pytest.raises(HaltProcessing):
        eng.process(tokens)
    eng.restart("next", "first")
    assert tokens[1] == ["second", 0, 1, 2]


def test_halt_break_stop(make_engine: Any) -> None:
    eng = make_engine([append(1), HALT("why", action="fix"), append(2)])
    with pytest.raises(HaltProcessing) as err:
        eng.process([[]])
    assert (err.value.message, err.value.action) == ("why", "fix")
    tokens = run(make_engine, [[append(1), BREAK(), append(2)], append(3)], [[]])
    assert tokens == [[1, 3]]
    tokens = run(make_engine, [append(1), STOP(), append(2)], [[], []])
    assert tokens == [[1], []]


def test_obj_next_goes_to_the_next_token_from_a_nested_list(make_engine: Any) -> None:
    tokens = run(make_engine, [[IF(lambda o, e: o[0] == 0, [OBJ_NEXT()])], append("end")], [[0], [1]])
    assert tokens == [[0], [1, "end"]]


def test_obj_jump_fwd_and_bwd(make_engine: Any) -> None:
    tokens = run(make_engine, [IF(lambda o, e: o[0] == 0, [OBJ_JUMP_FWD(2)]), append("x")], [[0], [1], [2]])
    assert tokens == [[0], [1], [2, "x"]]
    visits: list[int] = []

    def once_back(obj: list[Any], eng: Any) -> bool:
        visits.append(obj[0])
        return obj[0] == 2 and visits.count(2) == 1
    tokens = run(make_engine, [IF(once_back, [OBJ_JUMP_BWD(2)]), append("x")], [[0], [1], [2]])
    assert visits == [0, 1, 2, 0, 1, 2]
    assert tokens == [[0, "x", "x"], [1, "x", "x"], [2, "x"]]


def test_task_jumps(make_engine: Any) -> None:
    tokens = run(make_engine, [append("a"), TASK_JUMP_FWD(2), append("skipped"), append("b")], [[]])
    assert tokens == [["a", "b"]]
    tokens = run(make_engine, [append("a"), TASK_JUMP_IF(lambda o, e: len(o) < 3, -1), append("b")], [[]])
    assert tokens == [["a", "a", "a", "b"]]
    tokens = run(make_engine, [[append("a"), TASK_JUMP_IF(lambda o, e: len(o) >= 2, 2), TASK_JUMP_BWD(-2)],
                               append("b")], [[]])
    assert tokens == [["a", "a", "b"]]


def test_choice(make_engine: Any) -> None:
    def arbiter(obj: list[Any], eng: Any) -> str:
        return obj[0]
    workflow = [CHOICE(arbiter, ("one", append(1), [append(11)]), ("two", append(2)), three=append(3)),
                append("end")]
    tokens = run(make_engine, workflow, [["one"], ["two"], ["three"]])
    assert tokens == [["one", 1, 11, "end"], ["two", 2, "end"], ["three", 3, "end"]]
    with pytest.raises(WorkflowError, match="names no branch"):
        run(make_engine, workflow, [["four"]])


def test_simple_merge(make_engine: Any) -> None:
    tokens = run(make_engine, [SIMPLE_MERGE(append("b"), append("c"), append("d"), append("e"))], [[]])
    assert tokens == [["b", "e"]]
    with pytest.raises(WorkflowDefinitionError):
        SIMPLE_MERGE(append("b"))


def test_parallel_split_runs_branches_on_threads(make_engine: Any) -> None:
    started = threading.Barrier(3, timeout=5)  # both branches and the test meet: truly concurrent
    seen: list[Any] = []

    def branch(name: str) -> Any:
        def task(obj: Any, eng: Any) -> None:
            started.wait()
            with eng.extra_data["lock"]:
                seen.append((name, obj, threading.current_thread().name))
        return task
    eng = make_engine([PARALLEL_SPLIT(branch("b"), [branch("c")])])
    eng.process(["tok"])
    started.wait()
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(s[:2] for s in seen) == [("b", "tok"), ("c", "tok")]
    assert all(s[2].startswith("kg-parallel-split") for s in seen)
    assert "lock" in eng.extra_data


def test_synchronize_waits_for_all_branches_then_runs_the_last(make_engine: Any) -> None:
    barrier = threading.Barrier(2, timeout=5)  # deadlocks unless the branches run in parallel
    order: list[Any] = []

    def branch(name: str) -> Any:
        def task(obj: Any, eng: Any) -> None:
            barrier.wait()
            time.sleep(0.05)
            order.append(name)
        return task
    eng = make_engine([SYNCHRONIZE(branch("b"), [branch("c")], lambda o, e: order.append("final"),
                                   timeout=10), lambda o, e: order.append("after")])
    eng.process(["tok"])
    assert sorted(order[:2]) == ["b", "c"] and order[2:] == ["final", "after"]


def test_synchronize_timeout_and_branch_error(make_engine: Any) -> None:
    release = threading.Event()
    final: list[Any] = []
    eng = make_engine([SYNCHRONIZE(lambda o, e: release.wait(5), lambda o, e: None,
                                   lambda o, e: final.append(1), timeout=0.2)])
    t0 = time.monotonic()
    with pytest.raises(WorkflowError, match="1 of 2 branches still running"):
        eng.process(["tok"])
    assert time.monotonic() - t0 < 2 and final == []
    release.set()

    def fail(obj: Any, eng: Any) -> None:
        raise ValueError("branch failed")
    eng = make_engine([SYNCHRONIZE(fail, lambda o, e: None, lambda o, e: final.append(1))])
    with pytest.raises(ValueError, match="branch failed"):
        eng.process(["tok"])
    assert final == []
    with pytest.raises(WorkflowDefinitionError):
        SYNCHRONIZE(lambda o, e: None)


def test_patterns_get_docs_and_comment() -> None:
    assert FOR.__name__ == "FOR"
    task = IF(is_even, [append(1)])[0]
    assert task.__doc__.startswith("IF: args(")
    assert HALT(comment="custom").__doc__ == "custom"


def test_jump_override_disables_native_loop() -> None:
    jumps: list[int] = []

    class Counting(WorkflowEngine):
        def jump_call(self, offset: int) -> None:
            jumps.append(offset)
            super().jump_call(offset)
    eng = Counting()
    eng.callbacks.replace([FOR(range(2), "i", [append_var("i")])])
    tokens: list[list[Any]] = [[]]
    eng.process(tokens)
    assert tokens == [[0, 1]] and jumps == [-2, -2]
