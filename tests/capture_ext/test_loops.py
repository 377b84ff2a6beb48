"""capture.Loop and capture.LightweightLoop: one Task per iteration, streamed or batched, off when disabled."""
from __future__ import annotations

import itertools
from typing import Any

import pytest

import capture
from capture import loops as loops_mod
from kg.config import settings


def _iterations(store: Any, loop: Any) -> list[Any]:
    return sorted(store.find_nodes(parent=loop.id), key=lambda n: n.props["index"])


def test_streaming_loop_records_each_iteration(strict_sink: Any, store: Any) -> None:
    with capture.Run(name="train") as run:
        loop = capture.Loop(range(5), name="train_loop", item_name="epoch")
        seen = []
        for epoch in loop:
            seen.append(epoch)
            loop.end_iter({"loss": 0.5 * epoch})
    assert seen == [0, 1, 2, 3, 4]
    node = store.get_node(loop.id)
    assert node.kind == "Loop" and node.props["status"] == "FINISHED"
    assert node.props["iterations"] == 5 and node.props["items_length"] == 5
    assert node.props["parent"] == run.id
    its = _iterations(store, loop)
    assert [n.props["index"] for n in its] == [0, 1, 2, 3, 4]
    for n in its:
        assert n.kind == "Task" and n.props["status"] == "FINISHED" and n.props["run"] == run.id
        assert n.props["used"] == {"epoch": n.props["index"]}
        assert n.props["generated"] == {"loss": 0.5 * n.props["index"]}
        assert n.props["started"] <= n.props["ended"]
    # consecutive iterations tile the loop's time span
    assert all(a.props["ended"] == b.props["started"] for a, b in zip(its, its[1:]))


def test_int_and_iterator_inputs(strict_sink: Any, store: Any) -> None:
    pulled = []

    def endless() -> Any:
        for i in itertools.count():
            pulled.append(i)
            yield {"batch": i}

    with capture.Run(name="it"):
        n_loop = capture.Loop(3, name="n")
        assert list(n_loop) == [0, 1, 2]
        it_loop = capture.Loop(endless(), name="stream", items_length=1000)
        for item in it_loop:
            if item["batch"] == 9:
                break
    # the unbounded iterator was never materialised: only what the loop body asked for was pulled
    assert pulled == list(range(10))
    assert len(_iterations(store, n_loop)) == 3
    node = store.get_node(it_loop.id)
    assert node.props["items_length"] == 1000 and node.props["status"] == "EXITED"
    its = _iterations(store, it_loop)
    assert len(its) == 10 and its[-1].props["status"] == "EXITED"
    assert its[3].props["used"]["item"]["type"] == "dict"  # non-atomic items are summarised


def test_unknown_length_is_not_guessed(strict_sink: Any, store: Any) -> None:
    with capture.Run(name="u"):
        loop = capture.Loop(iter([1, 2]), name="u")
        with pytest.raises(TypeError):
            len(loop)
        assert list(loop) == [1, 2]
    assert "items_length" not in store.get_node(loop.id).props


def test_exception_in_body_is_recorded_and_propagates(strict_sink: Any, store: Any) -> None:
    with pytest.raises(ValueError):
        with capture.Run(name="boom"):
            loop = capture.Loop(["a", "b", "c"], name="l")
            for x in loop:
                if x == "b":
                    loop.end_iter({"seen": x})
                    raise ValueError("bad item")
    its = _iterations(store, loop)
    assert [n.props["status"] for n in its] == ["FINISHED", "EXITED"]
    assert its[1].props["generated"] == {"seen": "b"}
    assert store.get_node(loop.id).props["status"] == "EXITED"


def test_tasks_in_the_body_nest_under_the_loop(strict_sink: Any, store: Any) -> None:
    @capture.task(name="step")
    def step(x: int) -> int:
        return x + 1

    with capture.Run(name="nest"):
        loop = capture.Loop(range(3), name="outer")
        for i in loop:
            step(i)
        after = capture.Task("after").end  # a task after the loop is not nested in it
        after()
    steps = list(store.find_nodes(name="step"))
    assert len(steps) == 3 and all(s.props["parent"] == loop.id for s in steps)
    assert next(iter(store.find_nodes(name="after"))).props["parent"] != loop.id


def test_long_loop_streams_in_bounded_chunks(strict_sink: Any, store: Any) -> None:
    # However long the loop, the sink holds about its cap of iterations: memory is bounded.
    strict_sink.cap = 3 * loops_mod.CHUNK
    peak = 0
    with capture.Run(name="long"):
        loop = capture.Loop(range(60_000), name="long")
        for i in loop:
            if not i % 500:
                buffered = sum(len(r[4]) for r in list(strict_sink.buf)
                               if type(r) is tuple and r[0] == loops_mod._CHUNK_CODE)
                peak = max(peak, buffered)
    assert 0 < peak <= 2 * strict_sink.cap + loops_mod.CHUNK
    assert store.get_node(loop.id).props["iterations"] == 60_000
    assert sum(1 for _ in store.find_nodes(parent=loop.id)) == 60_000


def test_lightweight_loop_sends_one_batch_at_the_end(strict_sink: Any, store: Any) -> None:
    with capture.Run(name="lw"):
        loop = capture.LightweightLoop(iter([10, 20, 30]), name="eval", item_name="batch", items_length=3)
        for b in loop:
            loop.end_iter({"metric": b * 2})
            # nothing of this loop is queued while it runs
            assert not any(type(r) is tuple and r[0] == loops_mod._CHUNK_CODE for r in strict_sink.buf)
    its = _iterations(store, loop)
    assert [n.props["used"]["batch"] for n in its] == [10, 20, 30]
    assert [n.props["generated"]["metric"] for n in its] == [20, 40, 60]
    node = store.get_node(loop.id)
    assert node.props["form"] == "lightweight" and node.props["iterations"] == 3


def test_both_forms_are_noops_when_disabled(strict_sink: Any, store: Any) -> None:
    settings.enabled = False
    try:
        for cls in (capture.Loop, capture.LightweightLoop):
            loop = cls(range(4), name="off")
            it = iter(loop)
            assert type(it) is type(iter(range(4)))  # the plain iterator, no wrapper at all
            for x in it:
                loop.end_iter({"x": x})
    finally:
        settings.enabled = True
    capture.flush()
    assert store.counts()["nodes"] == 0


def test_failing_source_iterator_keeps_completed_iterations(strict_sink: Any, store: Any) -> None:
    def source() -> Any:
        yield 1
        yield 2
        raise OSError("disk gone")

    with capture.Run(name="src"):
        loop = capture.Loop(source(), name="src")
        with pytest.raises(OSError):
            for _ in loop:
                pass
    assert [n.props["used"]["item"] for n in _iterations(store, loop)] == [1, 2]
    assert store.get_node(loop.id).props["status"] == "ERROR"


def test_lightweight_break_and_tuple_input(strict_sink: Any, store: Any) -> None:
    with capture.Run(name="lwb"):
        loop = capture.LightweightLoop(("a", "b", "c", "d"), name="letters")
        for x in loop:
            loop.end_iter({"upper": x.upper()})
            if x == "b":
                break
    its = _iterations(store, loop)
    assert [(n.props["used"]["item"], n.props["generated"]["upper"]) for n in its] == [("a", "A"), ("b", "B")]
    assert store.get_node(loop.id).props["status"] == "EXITED"
