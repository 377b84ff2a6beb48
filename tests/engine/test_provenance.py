"""Provenance of engine runs (capture.engine): callbacks, token versions, halts, errors, the run itself."""
from __future__ import annotations

from typing import Any

import pytest

import capture
from capture.engine import record_engine
from kg.engine import GenericWorkflowEngine
from kg.engine.errors import HaltProcessing
from kg.engine.graph import PersistentEngine
from kg.engine.patterns import FOR
from kg.model.prov import explode


def add(obj: dict[str, Any], eng: Any) -> None:
    obj["value"] += 2


def look(obj: dict[str, Any], eng: Any) -> None:
    pass  # reads the token, changes nothing: no new version


def gate(obj: dict[str, Any], eng: Any) -> None:
    if obj["value"] > 20 and not obj.get("approved"):
        obj["approved"] = True
        eng.halt("too big", action="approve")


def boom(obj: dict[str, Any], eng: Any) -> None:
    raise ValueError("bad token")


def _nodes(store: Any, run_id: str, kind: str) -> list[Any]:
    return sorted(store.find_nodes(run=run_id, kind=kind), key=lambda n: n.props.get("started", 0) or 0)


def test_each_callback_is_an_activity_using_the_token_version_it_read(store: Any, strict_sink: Any) -> None:
    eng = GenericWorkflowEngine()
    eng.callbacks.replace([add, look, add])
    record_engine(eng)
    with capture.Run(name="engine") as run:
        eng.process([{"value": 1}, {"value": 10}])
    capture.flush()

    (wfr,) = _nodes(store, run.id, "WorkflowRun")
    assert wfr.props["status"] == "FINISHED" and wfr.props["parent"] == run.id and wfr.props["tokens"] == 2
    callbacks = sorted(_nodes(store, run.id, "Callback"), key=lambda n: (n.props["token"], n.props["started"]))
    assert [(c.props["token"], c.props["name"]) for c in callbacks] == [
        (0, "add"), (0, "look"), (0, "add"), (1, "add"), (1, "look"), (1, "add")]
    assert all(c.props["parent"] == wfr.id and c.props["status"] == "FINISHED" for c in callbacks)

    tokens = {n.id: n for n in store.find_nodes(run=run.id, kind="Token")}
    # token 0: v0 {1} -> add -> v1 {3} -> look (no change) -> add -> v2 {5}
    t0 = sorted((n for n in tokens.values() if n.props["token"] == 0), key=lambda n: n.props["version"])
    assert [n.props["value"]["repr"] for n in t0] == ["{'value': 1}", "{'value': 3}", "{'value': 5}"]
    first_add, looked, second_add = callbacks[:3]
    assert first_add.props["used"] == {"token": {"$from": t0[0].id}}
    assert looked.props["used"] == {"token": {"$from": t0[1].id}}
    assert second_add.props["used"] == {"token": {"$from": t0[1].id}}
    gen = {(e.src, e.dst) for e in store.find_edges(rel="WAS_GENERATED_BY", run=run.id)}
    assert (t0[1].id, first_add.id) in gen and (t0[2].id, second_add.id) in gen
    assert not any(dst == looked.id for _, dst in gen)  # `look` generated nothing
    derived = {(e.src, e.dst) for e in store.find_edges(rel="WAS_DERIVED_FROM", run=run.id)}
    assert derived >= {(t0[1].id, t0[0].id), (t0[2].id, t0[1].id)}

    # The compact activity explodes to PROV that names the token version itself.
    _, edges = explode(first_add)
    assert ("USED", t0[0].id) in {(e.rel, e.dst) for e in edges}
    assert ("WAS_INFORMED_BY", wfr.id) in {(e.rel, e.dst) for e in edges}
    # Lineage: the final version of token 0 derives from its first.
    up = store.lineage(t0[2].id, direction="up", depth=6)
    assert t0[0].id in {n.id for n in up.nodes}


def test_halt_ends_the_run_halted_and_a_restart_continues_it(store: Any, strict_sink: Any) -> None:
    eng = GenericWorkflowEngine()
    eng.callbacks.replace([add, gate, FOR(range(2), "i", [add])])
    record_engine(eng, name="grading")
    with capture.Run(name="halts") as run:
        with pytest.raises(HaltProcessing):
            eng.process([{"value": 1}, {"value": 20}])
        eng.restart("current", "next")
    capture.flush()
    assert [o["value"] for o in eng.objects] == [7, 26]
    first, second = _nodes(store, run.id, "WorkflowRun")
    assert first.props["status"] == "HALTED" and first.props["halt_message"] == "too big"
    assert first.props["halt_action"] == "approve" and first.props["task"] == "gate" and first.props["token"] == 1
    assert second.props["status"] == "FINISHED" and second.props["name"] == "grading"
    informed = {(e.src, e.dst, e.props.get("role")) for e in store.find_edges(rel="WAS_INFORMED_BY", run=run.id)}
    assert (second.id, first.id, "continues") in informed
    halted = [c for c in _nodes(store, run.id, "Callback") if c.props["status"] == "HALTED"]
    assert [(c.props["name"], c.props["token"], c.props["error"]) for c in halted] == [("gate", 1, "too big")]
    # The halting task changed the token (approved=True): that version is kept, and the
    # continued run's first task uses it.
    versions = sorted((n for n in store.find_nodes(run=run.id, kind="Token") if n.props["token"] == 1),
                      key=lambda n: n.props["version"])
    assert "'approved': True" in versions[2].props["value"]["repr"]
    after = [c for c in _nodes(store, run.id, "Callback") if c.props["parent"] == second.id]
    assert after[0].props["used"] == {"token": {"$from": versions[2].id}}


def test_error_is_recorded_on_the_task_and_the_run(store: Any, strict_sink: Any) -> None:
    eng = GenericWorkflowEngine()
    eng.callbacks.replace([add, boom])
    record_engine(eng)
    with capture.Run(name="errors") as run:
        with pytest.raises(ValueError):
            eng.process([{"value": 1}])
    capture.flush()
    (wfr,) = _nodes(store, run.id, "WorkflowRun")
    assert wfr.props["status"] == "ERROR" and wfr.props["error_type"] == "ValueError"
    assert wfr.props["error"] == "bad token" and wfr.props["task"] == "boom"
    failed = [c for c in _nodes(store, run.id, "Callback") if c.props["status"] == "ERROR"]
    assert [(c.props["name"], c.props["error_type"]) for c in failed] == [("boom", "ValueError")]


def test_persistent_engine_token_versions_specialise_the_saved_tokens(store: Any, strict_sink: Any) -> None:
    eng = PersistentEngine("versions", [add], store=store)
    record_engine(eng)
    with capture.Run(name="persistent") as run:
        eng.process([{"value": 1}, {"value": 2}])
    capture.flush()
    (wfr,) = _nodes(store, run.id, "WorkflowRun")
    assert wfr.props["workflow"] == eng.workflow_id
    spec = {(e.src, e.dst) for e in store.find_edges(rel="SPECIALIZATION_OF", run=run.id)}
    assert {dst for _, dst in spec} == {f"{eng.workflow_id}/token/0", f"{eng.workflow_id}/token/1"}
    for dst in {dst for _, dst in spec}:
        assert store.get_node(dst).kind == "Token"  # the persistent token node itself


def test_detach_stops_recording_and_no_record_without_a_recorder(store: Any, strict_sink: Any) -> None:
    eng = GenericWorkflowEngine()
    eng.callbacks.replace([add])
    rec = record_engine(eng)
    rec.detach()
    with capture.Run(name="quiet") as run:
        eng.process([{"value": 1}])
    capture.flush()
    assert _nodes(store, run.id, "Callback") == [] and _nodes(store, run.id, "WorkflowRun") == []
    assert eng.hooks.after_callback == ()


def test_run_id_records_into_another_run_without_an_active_run(store: Any, strict_sink: Any) -> None:
    with capture.Run(name="caller") as run:
        pass
    eng = GenericWorkflowEngine()
    eng.callbacks.replace([add])
    record_engine(eng, run_id=run.id)
    eng.process([{"value": 1}])
    capture.flush()
    (wfr,) = _nodes(store, run.id, "WorkflowRun")
    assert wfr.props["parent"] == run.id and len(_nodes(store, run.id, "Callback")) == 1
