"""The engine's own operations: processing, state, callbacks storage, restart and the control methods."""
from __future__ import annotations

import pickle
from typing import Any

import pytest

import kg.engine as engine_pkg
from kg.engine import GenericWorkflowEngine, MachineState, WorkflowEngine
from kg.engine.errors import (
    AbortProcessing,
    HaltProcessing,
    JumpCall,
    SkipToken,
    StopProcessing,
    WorkflowAPIError,
    WorkflowDefinitionError,
    WorkflowError,
    WorkflowTransition,
)
from kg.exceptions import KGError


def rec(log: list[Any], label: Any) -> Any:
    def task(obj: Any, eng: Any) -> None:
        log.append((label, obj))
    task.__name__ = f"rec_{label}"
    return task


def test_seed_name_is_the_engine() -> None:
    assert GenericWorkflowEngine is WorkflowEngine
    for name in engine_pkg.__all__:
        assert hasattr(engine_pkg, name), name


def test_process_runs_every_task_on_every_token_in_order(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([rec(log, "a"), [rec(log, "b"), [rec(log, "c")]], rec(log, "d")])
    eng.process(["x", "y"])
    assert log == [(t, o) for o in "xy" for t in "abcd"]
    assert eng.objects == ["x", "y"]
    assert eng.has_completed
    assert eng.state.token_pos == 1 and eng.state.callback_pos == [0]
    assert len(eng) == 2


def test_engine_is_reusable_and_tasks_get_the_engine(make_engine: Any) -> None:
    seen: list[Any] = []
    eng = make_engine([lambda obj, e: seen.append(e)])
    eng.process([1])
    eng.process([2, 3])
    assert seen == [eng, eng, eng]


def test_extra_data_is_shared_between_tasks_and_tokens(make_engine: Any) -> None:
    def count(obj: Any, eng: Any) -> None:
        eng.extra_data["n"] = eng.extra_data.get("n", 0) + obj
    eng = make_engine([count])
    eng.process([1, 2, 3])
    assert eng.extra_data["n"] == 6


def test_tuples_are_flattened_and_none_dropped(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([(rec(log, 1), None, (rec(log, 2),)), None, [rec(log, 3)]])
    assert len(eng.callbacks.get()) == 3
    eng.process(["t"])
    assert [label for label, _ in log] == [1, 2, 3]


def test_callbacks_storage() -> None:
    eng = WorkflowEngine()
    cb = eng.callbacks
    assert cb.empty()
    a = lambda o, e: None  # noqa: E731
    b = lambda o, e: None  # noqa: E731
    cb.add(a)
    cb.add_many([b, (a,)], key="other")
    assert cb.get() == [a] and cb.get("other") == [b, a]
    assert set(cb.get(None)) == {"*", "other"}
    cb.replace([b], key="other")
    assert cb.get("other") == [b]
    cb.clear("other")
    with pytest.raises(KeyError) as err:
        cb.get("other")
    assert isinstance(err.value, KGError) and "other" in str(err.value)
    cb.clear_all()
    assert cb.empty()


def test_callbacks_changed_between_runs_are_seen(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([rec(log, 1)])
    eng.process(["t"])
    eng.callbacks.add(rec(log, 2))
    eng.process(["t"])
    eng.callbacks.get().append(rec(log, 3))  # changed in place: noticed by its length
    eng.process(["t"])
    assert [label for label, _ in log] == [1, 1, 2, 1, 2, 3]


def test_callback_chooser_picks_keyed_workflows(make_engine: Any) -> None:
    log: list[Any] = []

    class Chooser(WorkflowEngine):
        def callback_chooser(self, obj: Any) -> Any:
            return self.callbacks.get(obj["type"])

    eng = make_engine(engine_cls=Chooser)
    eng.callbacks.replace([rec(log, "article")], key="article")
    eng.callbacks.replace([rec(log, "thesis")], key="thesis")
    eng.process([{"type": "thesis"}, {"type": "article"}])
    assert [label for label, _ in log] == ["thesis", "article"]


def test_preflight_errors() -> None:
    eng = WorkflowEngine()
    with pytest.raises(WorkflowError, match="callbacks are empty"):
        eng.process([1])
    eng.callbacks.add(lambda o, e: None)
    with pytest.raises(WorkflowError, match="not an iterable"):
        eng.process("abc")
    with pytest.raises(WorkflowError, match="not an iterable"):
        eng.process(5)
    eng.process([])  # an empty run is allowed (only a warning)
    eng.process(x for x in [1, 2])  # a generator is taken as a list
    assert list(eng.objects) == [1, 2]


def test_task_exception_propagates_with_position_kept(make_engine: Any) -> None:
    def boom(obj: Any, eng: Any) -> None:
        raise ValueError("bad token")
    eng = make_engine([lambda o, e: None, [lambda o, e: None, boom]])
    with pytest.raises(ValueError, match="bad token"):
        eng.process(["a", "b"])
    assert eng.state.token_pos == 0 and eng.state.callback_pos == [1, 1]
    assert isinstance(eng.last_exception, ValueError)
    assert eng.current_object == "a"
    assert eng.current_taskname == "boom"
    assert not eng.has_completed


def test_halt_carries_message_action_payload(make_engine: Any) -> None:
    eng = make_engine([lambda o, e: e.halt("need review", action="approve", payload={"id": 7})])
    with pytest.raises(HaltProcessing) as err:
        eng.process([1])
    assert (err.value.message, err.value.action, err.value.payload) == ("need review", "approve", {"id": 7})
    assert str(err.value) == "HaltProcessing(need review, action='approve', payload={'id': 7})"


def halt_once(flag_key: str) -> Any:
    def task(obj: Any, eng: Any) -> None:
        done = eng.extra_data.setdefault(flag_key, set())
        if obj not in done:
            done.add(obj)
            eng.halt(f"halt on {obj}")
    task.__name__ = "halt_once"
    return task


def test_restart_current_current_resumes_at_the_halting_task(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([rec(log, 1), [rec(log, 2), halt_once("h"), rec(log, 3)], rec(log, 4)])
    with pytest.raises(HaltProcessing):
        eng.process(["a", "b"])
    assert eng.state.callback_pos == [1, 1]
    with pytest.raises(HaltProcessing):
        eng.restart("current", "current")  # the halting task runs again: it lets "a" through now
    assert [x for x in log] == [(1, "a"), (2, "a"), (3, "a"), (4, "a"), (1, "b"), (2, "b")]
    eng.restart("current", "next")  # skip the halting task on "b"
    assert log[6:] == [(3, "b"), (4, "b")]
    assert eng.has_completed


def test_restart_next_first_and_first_first(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([rec(log, 1), lambda o, e: e.halt() if o == "a" else None, rec(log, 2)])
    with pytest.raises(HaltProcessing):
        eng.process(["a", "b"])
    eng.restart("next", "first")
    assert log == [(1, "a"), (1, "b"), (2, "b")]
    with pytest.raises(HaltProcessing):
        eng.restart("first", "first")
    assert log[-1] == (1, "a")


def test_restart_prev_and_task_prev(make_engine: Any) -> None:
    log: list[Any] = []
    halts = {"b"}

    def maybe_halt(obj: Any, eng: Any) -> None:
        if obj in halts:
            halts.discard(obj)
            eng.halt()
    eng = make_engine([rec(log, 1), rec(log, 2), maybe_halt])
    with pytest.raises(HaltProcessing):
        eng.process(["a", "b"])
    del log[:]
    eng.restart("prev", "prev")  # token "a" again, from the task before the halting one
    assert log == [(2, "a"), (1, "b"), (2, "b")]


def test_restart_with_new_objects_and_bad_arguments() -> None:
    eng = WorkflowEngine()
    seen: list[Any] = []
    eng.callbacks.replace([lambda o, e: seen.append(o)])
    eng.restart("first", "first", objects=[9, 8])
    assert seen == [9, 8] and eng.objects == [9, 8]
    with pytest.raises(WorkflowAPIError):
        eng.restart("sideways", "first")
    with pytest.raises(WorkflowAPIError):
        eng.restart("next", "sideways")


def test_stop_finishes_the_run_after_the_current_token(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([lambda o, e: e.stop() if o == 2 else None, rec(log, "after")])
    eng.process([1, 2, 3])
    assert log == [("after", 1)]
    assert eng.state.current_object_processed and eng.state.token_pos == 1


def test_continue_next_token_from_nested_list(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([[[lambda o, e: e.continue_next_token() if o == 1 else None]], rec(log, "end")])
    eng.process([1, 2])
    assert log == [("end", 2)]
    assert eng.state.callback_pos == [0]


def test_jump_token_forward_back_and_again(make_engine: Any) -> None:
    log: list[Any] = []
    jumps = {0: 2, 2: -1, 1: 0}  # token -> offset, used once each

    def jumper(obj: Any, eng: Any) -> None:
        log.append(obj)
        if obj in jumps:
            eng.jump_token(jumps.pop(obj))
    eng = make_engine([jumper, rec(log, "done")])
    eng.process([0, 1, 2, 3])
    # 0 jumps to 2, 2 back to 1, 1 runs again (offset 0), then 1, 2 and 3 complete.
    assert log == [0, 2, 1, 1, ("done", 1), 2, ("done", 2), 3, ("done", 3)]


def test_jump_token_past_the_end_finishes() -> None:
    eng = WorkflowEngine()
    eng.callbacks.replace([lambda o, e: e.jump_token(10)])
    eng.process([1, 2])
    assert eng.state.token_pos == 2 and eng.state.current_object_processed


def test_jump_call_forward_and_back(make_engine: Any) -> None:
    log: list[Any] = []

    def back_once(obj: Any, eng: Any) -> None:
        if log.count("b") == 1:
            eng.jump_call(-1)
    eng = make_engine([lambda o, e: e.jump_call(2), rec(log, "skipped"), lambda o, e: log.append("b"),
                       back_once, lambda o, e: log.append("c")])
    eng.process([0])
    assert log == ["b", "b", "c"]


def test_break_current_loop_leaves_only_the_nested_list(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([[rec(log, 1), lambda o, e: e.break_current_loop(), rec(log, 2)], rec(log, 3)])
    eng.process(["t"])
    assert [label for label, _ in log] == [1, 3]


def test_skip_token_and_abort_work_on_plain_objects(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([lambda o, e: e.skip_token() if o == 1 else None, rec(log, "x")])
    eng.process([1, 2])  # the seed failed here: it logged to obj.log
    assert log == [("x", 2)]
    del log[:]
    eng.callbacks.replace([lambda o, e: e.abort() if o == 2 else None, rec(log, "x")])
    eng.process([1, 2, 3])
    assert log == [("x", 1)]
    assert eng.state.current_object_processed  # an aborted run still ends normally


def test_stop_on_halt_false_goes_on_with_the_next_token(make_engine: Any) -> None:
    log: list[Any] = []
    eng = make_engine([lambda o, e: e.halt() if o % 2 else None, rec(log, "ok")])
    eng.process([0, 1, 2, 3, 4], stop_on_halt=False)
    assert [o for _, o in log] == [0, 2, 4]


def test_stop_on_error_false_goes_on_after_workflow_errors(make_engine: Any) -> None:
    log: list[Any] = []

    def fail(obj: Any, eng: Any) -> None:
        if obj == 1:
            raise WorkflowError("token 1 is bad")
    eng = make_engine([fail, rec(log, "ok")])
    with pytest.raises(WorkflowError):
        eng.process([0, 1, 2])
    eng.process([0, 1, 2], stop_on_error=False)
    assert [o for _, o in log] == [0, 0, 2]


def test_machine_state() -> None:
    state = MachineState(token_pos=3, callback_pos=[1, 2])
    assert (state.token_pos, state.callback_pos) == (3, [1, 2])
    with pytest.raises(AttributeError):
        state.token_pos = -2
    copy = pickle.loads(pickle.dumps(state))
    assert copy == state
    state.reset()
    assert (state.token_pos, state.callback_pos, state.current_object_processed) == (-1, [0], False)


def test_exceptions_str_pickle_and_hierarchy() -> None:
    for exc in (WorkflowError("m", id_workflow="w1", id_object=3, payload={"a": 1}),
                WorkflowDefinitionError("m", "wf", payload=1), HaltProcessing("m", "act", [1])):
        copy = pickle.loads(pickle.dumps(exc))
        assert str(copy) == str(exc) and vars(copy) == vars(exc)
    assert str(WorkflowError("plain")) == "plain"
    assert str(HaltProcessing()) == "HaltProcessing(, action=None, payload=None)"
    assert issubclass(WorkflowError, KGError) and issubclass(WorkflowDefinitionError, WorkflowError)
    for transition in (HaltProcessing, StopProcessing, JumpCall, SkipToken, AbortProcessing):
        assert issubclass(transition, WorkflowTransition) and not issubclass(transition, KGError)


def test_deprecated_names_still_work() -> None:
    eng = WorkflowEngine()
    with pytest.warns(DeprecationWarning):
        eng.setWorkflow([lambda o, e: e.setVar("seen", o)])
    with pytest.warns(DeprecationWarning):
        eng.process([5])
        assert eng.getVar("seen") == 5 and eng.hasVar("seen")
        assert eng.getCurrObjId() == 0 and eng.getCurrTaskId() == [0]
        eng.replaceCallbacks("*", [lambda o, e: e.haltProcessing("old")])
    with pytest.raises(HaltProcessing, match="old"), pytest.warns(DeprecationWarning):
        eng.process([1])
