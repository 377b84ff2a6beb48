"""Extension points: signals, the seed's processing factory / mappers, per-engine hooks, logging."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from kg.engine import ActionMapper, ProcessingFactory, TransitionActions, WorkflowEngine
from kg.engine import signals
from kg.engine.errors import HaltProcessing
from kg.engine.patterns import FOR, IF
from kg.engine.utils import classproperty, staticproperty


@pytest.fixture
def received() -> Any:
    """Connect a receiver to every engine signal; yields the list of (signal, sender)."""
    got: list[Any] = []
    receivers = {}
    for name in ("workflow_started", "workflow_finished", "workflow_halted", "workflow_error"):
        def receiver(sender: Any, _name: str = name) -> None:  # the seed's receivers take only the sender
            got.append((_name, sender))
        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield got
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def test_signals_started_finished_with_engine_as_sender(received: Any, make_engine: Any) -> None:
    eng = make_engine([lambda o, e: None])
    eng.process([1])
    assert received == [("workflow_started", eng), ("workflow_finished", eng)]


def test_signal_halted(received: Any, make_engine: Any) -> None:
    eng = make_engine([lambda o, e: e.halt("stop here")])
    with pytest.raises(HaltProcessing):
        eng.process([1])
    assert received == [("workflow_started", eng), ("workflow_halted", eng)]
    assert eng.last_exception.message == "stop here"


def test_signal_error_is_sent(received: Any, make_engine: Any) -> None:
    def boom(obj: Any, eng: Any) -> None:
        raise RuntimeError("boom")
    eng = make_engine([boom])
    with pytest.raises(RuntimeError):
        eng.process([1])
    assert received == [("workflow_started", eng), ("workflow_error", eng)]  # the seed never sent it
    assert isinstance(eng.last_exception, RuntimeError)


def test_hooks_see_tokens_tasks_and_transitions(make_engine: Any) -> None:
    events: list[Any] = []
    eng = make_engine([lambda o, e: None, IF(lambda o, e: o == 2, [lambda o, e: e.halt()])])
    hooks = eng.hooks
    hooks.connect("before_processing", lambda e, objs: events.append(("start", list(objs))))
    hooks.connect("before_object", lambda e, objs, o: events.append(("obj", o)))
    hooks.connect("after_object", lambda e, objs, o: events.append(("done", o)))
    hooks.connect("after_callback", lambda e, cb, o, exc: events.append(
        ("task", e.state.callback_pos[:], type(exc).__name__ if exc else None)))
    hooks.connect("transition", lambda e, o, exc: events.append(("transition", type(exc).__name__)))
    hooks.connect("after_processing", lambda e, objs: events.append("end"))
    with pytest.raises(HaltProcessing):
        eng.process([1, 2])
    assert events == [
        ("start", [1, 2]),
        ("obj", 1), ("task", [0], None), ("task", [1, 0], "BreakFromThisLoop"),
        ("transition", "BreakFromThisLoop"), ("done", 1),
        ("obj", 2), ("task", [0], None), ("task", [1, 0], "JumpCall"), ("transition", "JumpCall"),
        ("task", [1, 1, 0], "HaltProcessing"), ("transition", "HaltProcessing"),
    ]


def test_hooks_disconnect_returns_to_the_fast_path() -> None:
    eng = WorkflowEngine()
    eng.callbacks.replace([lambda o, e: None])

    def hook(e: Any, cb: Any, o: Any) -> None:
        pass
    eng.hooks.connect("before_callback", hook)
    assert eng._per_task is not None
    eng.hooks.disconnect("before_callback", hook)
    eng.process([1])
    assert eng._per_task is None
    with pytest.raises(Exception, match="unknown engine hook"):
        eng.hooks.connect("nope", hook)


def test_seed_style_factory_overrides_are_called() -> None:
    events: list[Any] = []

    class MyMapper(ActionMapper):
        @staticmethod
        def before_callbacks(obj: Any, eng: Any) -> None:
            events.append(("before_callbacks", obj))

        @staticmethod
        def after_callbacks(obj: Any, eng: Any) -> None:
            events.append(("after_callbacks", obj))

        @staticmethod
        def before_each_callback(eng: Any, callback_func: Any, obj: Any) -> None:
            events.append(("before_each", callback_func.__name__))

        @staticmethod
        def after_each_callback(eng: Any, callback_func: Any, obj: Any) -> None:
            events.append(("after_each", callback_func.__name__))

    class MyActions(TransitionActions):
        @staticmethod
        def HaltProcessing(obj: Any, eng: Any, callbacks: Any, e: Any) -> None:
            events.append(("saved at", eng.state.token_pos))
            raise e  # the seed's example does exactly this

    class MyFactory(ProcessingFactory):
        @classproperty
        def action_mapper(cls) -> Any:
            return MyMapper

        @staticproperty
        def transition_exception_mapper() -> Any:
            return MyActions

        @staticmethod
        def before_object(eng: Any, objects: Any, obj: Any) -> None:
            events.append(("before_object", obj))

        @staticmethod
        def after_object(eng: Any, objects: Any, obj: Any) -> None:
            events.append(("after_object", obj))

    class MyEngine(WorkflowEngine):
        @staticproperty
        def processing_factory() -> Any:
            return MyFactory

    def work(obj: Any, eng: Any) -> None:
        if obj == "b":
            eng.halt()

    eng = MyEngine()
    eng.callbacks.replace([work])
    with pytest.raises(HaltProcessing):
        eng.process(["a", "b"])
    assert events == [
        ("before_object", "a"), ("before_callbacks", "a"), ("before_each", "work"), ("after_each", "work"),
        ("after_callbacks", "a"), ("after_object", "a"),
        ("before_object", "b"), ("before_callbacks", "b"), ("before_each", "work"), ("after_each", "work"),
        ("after_callbacks", "b"), ("saved at", 1),
    ]


def test_transition_handler_found_by_class_hierarchy() -> None:
    class SpecialHalt(HaltProcessing):
        pass
    eng = WorkflowEngine()
    halted: list[Any] = []
    signals.workflow_halted.connect(halted.append, sender=eng, weak=False)
    eng.callbacks.replace([lambda o, e: (_ for _ in ()).throw(SpecialHalt("x"))])
    try:
        with pytest.raises(SpecialHalt):
            eng.process([1])
    finally:
        signals.workflow_halted.disconnect(halted.append, sender=eng)
    assert halted == [eng]  # handled as a halt, not as an error


def test_execute_callback_override_is_used() -> None:
    calls: list[Any] = []

    class Logged(WorkflowEngine):
        def execute_callback(self, callback: Any, obj: Any) -> None:
            calls.append(callback.__name__)
            super().execute_callback(callback, obj)

    eng = Logged()

    def body(obj: Any, e: Any) -> None:
        pass
    eng.callbacks.replace([FOR([1, 2], "i", [body])])
    eng.process(["t"])
    # The jump task is really called on this path (the bare loop skips it).
    assert calls == ["FOR", "body", "TASK_JUMP_BWD"] * 2 + ["FOR"]


def test_logger_per_engine_and_debug_trace(caplog: Any) -> None:
    a, b = WorkflowEngine(), WorkflowEngine()
    assert a.log is not b.log and a.id != b.id
    a.callbacks.replace([lambda o, e: None])
    with caplog.at_level(logging.DEBUG, logger="kg.engine"):
        a.process(["tok"])
    messages = [r.getMessage() for r in caplog.records if r.name == "kg.engine.WorkflowEngine"]
    assert any("callback <lambda> for obj: 'tok'" in m for m in messages)
    assert all(getattr(r, "engine_id", None) == a.id for r in caplog.records if r.name.startswith("kg.engine"))
