"""The Store contract, run unchanged on SQLite and Neo4j: what every user of a store relies on."""
from __future__ import annotations

from typing import Any

import pytest

from kg.exceptions import AmbiguousReference, InputError, NotFound
from kg.model import Edge, Node, edge, node
from kg.stores.base import Store

EVIL = "x'); DROP TABLE nodes; -- } DETACH DELETE n // \"`\\\n{braces} $param \u2603"


def ekey(e: Edge) -> tuple[str, str, str, Any]:
    return (e.src, e.rel, e.dst, e.props.get("role", ""))


def delta(store: Store, before: dict[str, int]) -> dict[str, int]:
    now = store.counts()
    return {k: now[k] - before[k] for k in ("nodes", "edges")}


def test_upsert_is_idempotent_and_merges_props(kgstore: Store, ns: str) -> None:
    a, b = ns + "a", ns + "b"
    before = kgstore.counts()
    nodes = [node(a, "Entity", "Value", name="x", value=1), node(b, "Activity", "Task", name="f")]
    edges = [edge("USED", b, a, role="x", time=1.5)]
    kgstore.write(nodes, edges)
    kgstore.write(nodes, edges)
    assert delta(kgstore, before) == {"nodes": 2, "edges": 1}
    kgstore.write([node(b, "Activity", "Task", status="FINISHED", extra={"k": [1, 2]})],
                  [edge("USED", b, a, role="x", run=ns)])
    got = kgstore.get_node(b)
    assert got is not None and got.props == {"name": "f", "status": "FINISHED", "extra": {"k": [1, 2]}}
    assert [e.props for e in kgstore.find_edges(src=b)] == [{"role": "x", "time": 1.5, "run": ns}]
    assert delta(kgstore, before) == {"nodes": 2, "edges": 1}


def test_writing_a_record_again_keeps_its_null_values(kgstore: Store, ns: str) -> None:
    # (a second pull of a run writes every record again: a function that returned None stays so)
    props = {"name": "f", "generated": {"return": None}, "used": {"x": [1, None]}}
    for _ in range(2):
        kgstore.write([Node(ns + "f", "Activity", "Activation", dict(props))],
                      [edge("USED", ns + "f", ns + "f", role="r", note={"k": None})])
    got = kgstore.get_node(ns + "f")
    assert got is not None and got.props == props
    assert [e.props.get("note") for e in kgstore.find_edges(src=ns + "f")] == [{"k": None}]


def test_same_relation_in_two_roles_is_two_edges(kgstore: Store, ns: str) -> None:
    before = kgstore.counts()
    kgstore.write([node(ns + "t", "Activity", "Task"), node(ns + "v", "Entity", "Value")],
                  [edge("USED", ns + "t", ns + "v", role="x"), edge("USED", ns + "t", ns + "v", role="y")])
    assert delta(kgstore, before) == {"nodes": 2, "edges": 2}
    assert sorted(e.props["role"] for e in kgstore.find_edges(src=ns + "t")) == ["x", "y"]


def test_every_json_value_round_trips(kgstore: Store, ns: str) -> None:
    props = {"s": "text", "i": -7, "f": 2.5, "t": True, "strs": ["a", "b"], "ints": [1, 2, 3],
             "mixed": [1, "a", None, 2.5], "empty": [], "obj": {"k": {"deep": [1, {"x": None}]}},
             "emptyobj": {}, "id": "not the node id", "kind": "not the kind", "_json": ["x"], "~tilde": 1,
             "unicode": "\u2603 \U0001f600"}
    kgstore.write([Node(ns + "v", "Entity", "Value", dict(props))])
    got = kgstore.get_node(ns + "v")
    assert got is not None
    assert (got.id, got.cls, got.kind) == (ns + "v", "Entity", "Value")
    assert got.props == props


def test_runs_are_numbered_once_and_resolved_by_number_prefix_or_id(kgstore: Store, ns: str) -> None:
    r1, r2, r3 = ns + "0001-aaaa", ns + "0001-bbbb", ns + "0002-cccc"
    kgstore.write([node(r1, "Activity", "Run", name="one"), node(r2, "Activity", "Run")])
    kgstore.write([node(r3, "Activity", "Trial", seq=999)])  # an incoming number is the store's to assign
    kgstore.write([node(r1, "Activity", "Run", status="finished")])  # re-writing keeps the number
    mine = [r for r in kgstore.runs() if r.id.startswith(ns)]
    seqs = [r.props["seq"] for r in mine]
    assert [r.id for r in mine] == [r1, r2, r3] or sorted(r.id for r in mine) == [r1, r2, r3]
    assert len(set(seqs)) == 3 and 999 not in seqs
    assert seqs == sorted(seqs)
    for r in mine:
        assert kgstore.resolve_run(str(r.props["seq"])).id == r.id
        assert kgstore.resolve_run(r.props["seq"]).id == r.id
    assert kgstore.resolve_run(ns + "0002").id == r3
    assert kgstore.resolve_run(r2).id == r2
    assert kgstore.get_node(r1).props["status"] == "finished"  # type: ignore[union-attr]
    with pytest.raises(AmbiguousReference):
        kgstore.resolve_run(ns + "0001")
    with pytest.raises(NotFound):
        kgstore.resolve_run(ns + "zzz")


def test_hostile_text_in_every_field_is_stored_verbatim(kgstore: Store, ns: str) -> None:
    evil_id = ns + EVIL
    before = kgstore.counts()
    kgstore.write([node(evil_id, "Entity", "Value", name=EVIL, run=ns + EVIL, parent=EVIL, value={EVIL: [EVIL]},
                        **{EVIL: EVIL})],
                  [edge("USED", evil_id, evil_id, role=EVIL, run=ns + EVIL, note=EVIL)])
    assert delta(kgstore, before) == {"nodes": 1, "edges": 1}
    n = kgstore.get_node(evil_id)
    assert n is not None and n.props == {"name": EVIL, "run": ns + EVIL, "parent": EVIL,
                                         "value": {EVIL: [EVIL]}, EVIL: EVIL}
    assert [x.id for x in kgstore.find_nodes(name=EVIL)] == [evil_id]
    assert [x.id for x in kgstore.find_nodes(run=ns + EVIL)] == [evil_id]
    assert [x.id for x in kgstore.find_nodes(id_prefix=ns + "x');")] == [evil_id]
    assert [x.id for x in kgstore.find_nodes(kind=EVIL)] == []
    (e,) = kgstore.find_edges(src=evil_id, rel="USED")
    assert e.props == {"role": EVIL, "run": ns + EVIL, "note": EVIL}
    assert [ekey(x) for x in kgstore.find_edges(run=ns + EVIL)] == [ekey(e)]
    assert list(kgstore.find_edges(rel=EVIL)) == []


@pytest.mark.parametrize("bad", [EVIL, "Has Space", "", "9lives", "Value`) DETACH DELETE n //"])
def test_kinds_and_relations_that_are_not_identifiers_are_refused(kgstore: Store, ns: str, bad: str) -> None:
    before = kgstore.counts()
    with pytest.raises(InputError):
        kgstore.write([node(ns + "ok", "Entity", "Value"), node(ns + "bad", "Entity", bad)])
    with pytest.raises(InputError):
        kgstore.write([node(ns + "ok", "Entity", "Value")], [Edge(bad, ns + "ok", ns + "ok", {})])
    assert delta(kgstore, before) == {"nodes": 0, "edges": 0}  # nothing of a refused write


def test_find_nodes_streams_in_id_order_with_filters(kgstore: Store, ns: str) -> None:
    n = 6100  # more than one page of every store
    kgstore.write([node(f"{ns}n{i:05d}", "Entity", "Value", run=ns + "r", name=f"v{i % 3}") for i in range(n)]
                  + [node(ns + "task", "Activity", "Task", run=ns + "r", parent=ns + "n00001")])
    ids = [x.id for x in kgstore.find_nodes(run=ns + "r", kind="Value")]
    assert ids == [f"{ns}n{i:05d}" for i in range(n)]
    assert len(list(kgstore.find_nodes(run=ns + "r", name="v1"))) == len(range(1, n, 3))
    assert [x.id for x in kgstore.find_nodes(run=ns + "r", cls="Activity")] == [ns + "task"]
    assert [x.id for x in kgstore.find_nodes(parent=ns + "n00001")] == [ns + "task"]
    assert [x.id for x in kgstore.find_nodes(id_prefix=ns + "n0000", limit=5)] == [f"{ns}n{i:05d}" for i in range(5)]
    it = kgstore.find_nodes(id_prefix=ns)
    assert next(it).id == f"{ns}n00000"  # a generator: the first record comes before the rest is read
    assert [x.id for x in kgstore.children_of([ns + "n00001"])] == [ns + "task"]
    got = kgstore.get_nodes([ns + "n00002", ns + "missing", ns + "task"])
    assert sorted(got) == [ns + "n00002", ns + "task"]


def test_find_edges_filters(kgstore: Store, ns: str) -> None:
    t, v, w = ns + "t", ns + "v", ns + "w"
    kgstore.write([node(t, "Activity", "Task"), node(v, "Entity", "Value"), node(w, "Entity", "Value")],
                  [edge("USED", t, v, role="in", run=ns), edge("WAS_GENERATED_BY", w, t, role="out", run=ns),
                   edge("WAS_DERIVED_FROM", w, v, run=ns + "other")])
    assert {ekey(e) for e in kgstore.find_edges(run=ns)} == {(t, "USED", v, "in"), (w, "WAS_GENERATED_BY", t, "out")}
    assert {ekey(e) for e in kgstore.find_edges(src=w)} == {(w, "WAS_GENERATED_BY", t, "out"),
                                                           (w, "WAS_DERIVED_FROM", v, "")}
    assert {ekey(e) for e in kgstore.find_edges(dst=v, rel="USED")} == {(t, "USED", v, "in")}
    assert {ekey(e) for e in kgstore.edges_of([w], direction="up")} == {(w, "WAS_GENERATED_BY", t, "out"),
                                                                       (w, "WAS_DERIVED_FROM", v, "")}
    assert {ekey(e) for e in kgstore.edges_of([v], direction="down")} == {(t, "USED", v, "in"),
                                                                         (w, "WAS_DERIVED_FROM", v, "")}
    assert list(kgstore.find_edges(src=ns + "nobody")) == []


def _pipeline(ns: str) -> tuple[list[Node], list[Edge]]:
    """A run with two compact tasks: t1(x) -> y, then t2 used t1's y (dataflow) -> z; file f0 -> f1."""
    run, t1, t2 = ns + "run", ns + "t1", ns + "t2"
    nodes = [node(run, "Activity", "Run", name="pipe", run=run),
             node(t1, "Activity", "Task", name="one", run=run, parent=run, started=1.0, ended=2.0,
                  used={"x": 1}, generated={"y": {"type": "int", "repr": "2"}}),
             node(t2, "Activity", "Task", name="two", run=run, parent=t1, started=3.0, ended=4.0,
                  used={"y": {"$from": t1 + "/out/y", "summary": {"type": "int"}}}, generated={"z": 4}),
             node(ns + "f0", "Entity", "FileVersion", path="/d/in.csv"),
             node(ns + "f1", "Entity", "FileVersion", path="/d/out.csv"),
             node(ns + "agent", "Agent", "Person", name="me")]
    edges = [edge("USED", t2, t1 + "/out/y", role="y", run=run, time=3.0),
             edge("USED", t1, ns + "f0", role="r", run=run),
             edge("WAS_GENERATED_BY", ns + "f1", t2, role="w", run=run),
             edge("WAS_DERIVED_FROM", ns + "f1", ns + "f0", run=run),
             edge("WAS_ASSOCIATED_WITH", run, ns + "agent", role="user", run=run)]
    return nodes, edges


def test_lineage_up_and_down_with_depth(kgstore: Store, ns: str) -> None:
    kgstore.write(*_pipeline(ns))
    up = kgstore.lineage(ns + "t2/out/z", direction="up", depth=10)
    assert up.depth == {ns + "t2/out/z": 0, ns + "t2": 1, ns + "t1/out/y": 2, ns + "t1": 2, ns + "t1": 2,
                        ns + "t1/in/x": 3, ns + "f0": 3, ns + "run": 3}
    assert {n.id for n in up.nodes} == set(up.depth)
    assert (ns + "t1/out/y", "WAS_GENERATED_BY", ns + "t1", "y") in {ekey(e) for e in up.edges}
    assert ns + "agent" not in up.depth  # association is not lineage
    short = kgstore.lineage(ns + "t2/out/z", direction="up", depth=2)
    assert max(short.depth.values()) == 2 and ns + "t1/in/x" not in short.depth
    down = kgstore.lineage(ns + "f0", direction="down", depth=10)
    assert down.depth[ns + "f1"] == 1 and down.depth[ns + "t1"] == 1
    assert down.depth[ns + "t1/out/y"] == 2 and down.depth[ns + "t2"] == 2
    assert down.depth[ns + "t2/out/z"] == 3
    one = kgstore.lineage(ns + "f0", direction="down", depth=1)
    assert set(one.depth) == {ns + "f0", ns + "f1", ns + "t1"}
    with pytest.raises(NotFound):
        kgstore.lineage(ns + "nothing")


def test_compact_values_are_addressable(kgstore: Store, ns: str) -> None:
    kgstore.write(*_pipeline(ns))
    v = kgstore.get_any(ns + "t1/out/y")
    assert v is not None and (v.cls, v.kind) == ("Entity", "Value")
    assert v.props["value"] == {"type": "int", "repr": "2"} and v.props["name"] == "y"
    assert kgstore.resolve_node(ns + "t1/in/x").props["value"] == 1
    t1 = kgstore.get_node(ns + "t1")
    assert t1 is not None and t1.props["used"] == {"x": 1}  # `kg show` reads the compact props


def test_run_records_are_the_runs_prov_and_copy_idempotently(kgstore: Store, ns: str, tmp_path: Any) -> None:
    kgstore.write(*_pipeline(ns))
    nodes, edges = kgstore.run_records([ns + "run"])
    nodes, edges = list(nodes), list(edges)
    assert {n.id for n in nodes} == {ns + x for x in ("run", "t1", "t2", "t1/in/x", "t1/out/y", "t2/out/z",
                                                      "f0", "f1", "agent")}
    assert {ekey(e) for e in edges} == {
        (ns + "t1", "USED", ns + "t1/in/x", "x"), (ns + "t1/out/y", "WAS_GENERATED_BY", ns + "t1", "y"),
        (ns + "t2", "USED", ns + "t1/out/y", "y"), (ns + "t2/out/z", "WAS_GENERATED_BY", ns + "t2", "z"),
        (ns + "t1", "WAS_INFORMED_BY", ns + "run", "parent"), (ns + "t2", "WAS_INFORMED_BY", ns + "t1", "parent"),
        (ns + "t1", "USED", ns + "f0", "r"), (ns + "f1", "WAS_GENERATED_BY", ns + "t2", "w"),
        (ns + "f1", "WAS_DERIVED_FROM", ns + "f0", ""), (ns + "run", "WAS_ASSOCIATED_WITH", ns + "agent", "user")}
    kgstore.write(nodes, edges)  # SQLite now holds the exploded records too; Neo4j already did
    before = kgstore.counts()
    kgstore.write(nodes, edges)  # and writing them again changes nothing
    assert kgstore.counts() == before
    from kg.stores.sqlite import SqliteStore

    copy = SqliteStore(tmp_path / "copy.db")  # and another store receives the same graph
    copy.write(nodes, edges)
    n2, e2 = copy.run_records([ns + "run"])
    assert {n.id for n in n2} == {n.id for n in nodes}
    assert {ekey(e) for e in e2} == {ekey(e) for e in edges}
    copy.close()


def test_an_earlier_run_keeps_the_file_facts_a_later_run_relabelled(kgstore: Store, ns: str) -> None:
    """Two trials reach the same file version: the version's SPECIALIZATION_OF edge is stored
    once, labelled with the later trial, and both trials' records still hold it."""
    r1, r2, f, v = ns + "r1", ns + "r2", ns + "file", ns + "fv"
    shared = [node(f, "Entity", "File", path="/x"), node(v, "Entity", "FileVersion", path="/x")]
    kgstore.write([node(r1, "Activity", "Trial", run=r1), *shared],
                  [edge("USED", r1, v, role="read", run=r1), edge("SPECIALIZATION_OF", v, f, run=r1)])
    kgstore.write([node(r2, "Activity", "Trial", run=r2), *shared],
                  [edge("USED", r2, v, role="read", run=r2), edge("SPECIALIZATION_OF", v, f, run=r2)])
    for run in (r1, r2):
        nodes, edges = kgstore.run_records([run])
        keys = {(e.src, e.rel, e.dst) for e in edges}
        assert (v, "SPECIALIZATION_OF", f) in keys and (run, "USED", v) in keys, run
        assert {f, v} <= {n.id for n in nodes}
    _, both = kgstore.run_records([r1, r2])
    assert [e.rel for e in both].count("SPECIALIZATION_OF") == 1  # once, not once per run


def test_an_earlier_run_keeps_its_agents_delegation_a_later_run_relabelled(kgstore: Store, ns: str) -> None:
    """Every run of one user has provkg act on behalf of that user: one shared edge, labelled
    by the latest run; each run's records still hold it (and not another user's)."""
    sw, alice, bob = ns + "provkg", ns + "alice", ns + "bob"
    agents = [node(sw, "Agent", "SoftwareAgent"), node(alice, "Agent", "Person"), node(bob, "Agent", "Person")]
    runs = {ns + "r1": alice, ns + "r2": alice, ns + "r3": bob}
    for run, user in runs.items():
        kgstore.write([node(run, "Activity", "Run", run=run), *agents],
                      [edge("WAS_ASSOCIATED_WITH", run, user, role="user", run=run),
                       edge("WAS_ASSOCIATED_WITH", run, sw, role="capture", run=run),
                       edge("ACTED_ON_BEHALF_OF", sw, user, run=run)])
    for run, user in runs.items():
        _, edges = kgstore.run_records([run])
        delegations = [(e.src, e.dst) for e in edges if e.rel == "ACTED_ON_BEHALF_OF"]
        assert delegations == [(sw, user)], run
