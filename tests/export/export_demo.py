"""Demo provenance for the export tests: a script trial that reads and writes files, plus a
run that holds one record of every kind and relation (and hostile strings).

Ids and times are fixed, so golden files need no normalising for these records."""
from __future__ import annotations

from kg.model import Kind, ProvClass, Relation, edge, node
from kg.model.records import Edge, Node

__all__ = ["demo_records", "TRIAL", "RUN2", "HOSTILE", "REPORT_V", "LINEAGE_FILES_OF_REPORT",
           "FILE_INFLUENCE", "T0"]

T0 = 1_700_000_000.0
TRIAL = "trial-1"
RUN2 = "run-2"
REPORT_V = "fv:report.txt@h5"
# What the report's content depends on (the debug log is written by a sibling and is not).
LINEAGE_FILES_OF_REPORT = {"file:data.csv", "file:params.json", "file:out.csv"}
FILE_INFLUENCE = {("file:data.csv", "file:out.csv"), ("file:params.json", "file:out.csv"),
                  ("file:data.csv", "file:report.txt"), ("file:params.json", "file:report.txt"),
                  ("file:out.csv", "file:report.txt")}
HOSTILE = "it's \"q\" \\ back\nslash\t ü 𝄞 '), halt. \x01 %"

E, A, G = ProvClass.ENTITY, ProvClass.ACTIVITY, ProvClass.AGENT


def _trial() -> tuple[list[Node], list[Edge]]:
    r = TRIAL
    nodes = [
        node(r, A, Kind.TRIAL, run=r, name="analysis.py", status="finished", started=T0, ended=T0 + 10,
             argv=["analysis.py", "--fast"], seq=1),
        node("agent:person:alice", G, Kind.PERSON, name="alice"),
        node("agent:provkg", G, Kind.SOFTWARE_AGENT, name="provkg", version="0.1.0"),
        node("script:analysis.py@s1", E, Kind.SCRIPT, run=r, name="analysis.py", hash="s1"),
    ]
    edges = [
        edge(Relation.WAS_ASSOCIATED_WITH, r, "agent:person:alice", role="user", plan="script:analysis.py@s1",
             run=r),
        edge(Relation.WAS_ASSOCIATED_WITH, r, "agent:provkg", role="capture", run=r),
        edge(Relation.ACTED_ON_BEHALF_OF, "agent:provkg", "agent:person:alice", run=r),
    ]
    files = {"data.csv": ["h1"], "params.json": ["h2"], "out.csv": ["h3", "h4"], "report.txt": ["h5"],
             "debug.log": ["h6"]}
    for path, hashes in files.items():
        nodes.append(node(f"file:{path}", E, Kind.FILE, run=r, name=path, path=f"/work/{path}"))
        for i, h in enumerate(hashes):
            v = f"fv:{path}@{h}"
            nodes.append(node(v, E, Kind.FILE_VERSION, run=r, name=path, hash=h, size=100 + i))
            edges.append(edge(Relation.SPECIALIZATION_OF, v, f"file:{path}", run=r))
            if i:
                edges.append(edge(Relation.WAS_DERIVED_FROM, v, f"fv:{path}@{hashes[i - 1]}", run=r))
    # Function activations in the compact shape the tracer writes (kg.model.prov).
    acts = [("main", r, {}, {}), ("load", "act:main", {"path": "data.csv"}, {"return": {"type": "list", "size": 3}}),
            ("transform", "act:main", {"rows": {"type": "list", "size": 3}}, {"return": None}),
            ("update", "act:main", {}, {}), ("report", "act:main", {}, {"return": 0}),
            ("log", "act:main", {"msg": "done"}, {})]
    for i, (name, parent, used, generated) in enumerate(acts):
        props = {"run": r, "name": name, "parent": parent, "started": T0 + i, "ended": T0 + i + 0.5,
                 "line": 10 + i}
        if used:
            props["used"] = used
        if generated:
            props["generated"] = {k: v for k, v in generated.items()}
        nodes.append(node(f"act:{name}", A, Kind.ACTIVATION, **props))

    def io(rel: Relation, src: str, dst: str, t: float) -> Edge:
        return edge(rel, src, dst, time=T0 + t, run=r)

    edges += [
        io(Relation.USED, "act:load", "fv:data.csv@h1", 1.1),
        io(Relation.USED, "act:transform", "act:load/out/return", 2.0),  # dataflow between calls
        io(Relation.USED, "act:transform", "fv:params.json@h2", 2.1),
        io(Relation.WAS_GENERATED_BY, "fv:out.csv@h3", "act:transform", 2.4),
        io(Relation.USED, "act:update", "fv:out.csv@h3", 3.1),
        io(Relation.WAS_GENERATED_BY, "fv:out.csv@h4", "act:update", 3.4),
        io(Relation.USED, "act:report", "fv:out.csv@h4", 4.1),
        io(Relation.WAS_GENERATED_BY, REPORT_V, "act:report", 4.4),
        io(Relation.WAS_GENERATED_BY, "fv:debug.log@h6", "act:log", 5.4),
    ]
    return nodes, edges


def _every_kind() -> tuple[list[Node], list[Edge]]:
    r = RUN2
    k = Kind
    spec = [
        (r, A, k.RUN), ("task:1", A, k.TASK), ("loop:1", A, k.LOOP), ("wfrun:1", A, k.WORKFLOW_RUN),
        ("cb:1", A, k.CALLBACK), ("restore:1", A, k.RESTORE), ("access:1", A, k.FILE_ACCESS), ("part:1", A, k.RUN_PART),
        ("value:1", E, k.VALUE), ("var:x", E, k.VARIABLE), ("module:numpy", E, k.MODULE), ("def:f", E, k.DEFINITION),
        ("env:PATH", E, k.ENVIRONMENT), ("campaign:c", E, k.CAMPAIGN), ("wf:1", E, k.WORKFLOW),
        ("token:1@1", E, k.TOKEN), ("token:1@2", E, k.TOKEN), ("plan:p", E, k.PLAN),
        ("host:h", G, k.HOST), ("worker:w", G, k.WORKER), ("agent:bob", G, k.PERSON),
        ("agent:sw", G, k.SOFTWARE_AGENT), ("value:alt", E, k.VALUE), ("annotation:1", E, k.ANNOTATION),
    ]
    nodes = [node(i, c, kd, run=r, name=i.split(":")[0]) for i, c, kd in spec]
    nodes[0] = node(r, A, k.RUN, run=r, name="every kind", started=T0 + 100, ended=T0 + 101, seq=2,
                    status="finished", ratio=0.25, big=2**62, ok=True, nothing=None,
                    tags=["a", "b"], meta={"k": [1, 2.5, None]})
    nodes.append(node(f"value:{HOSTILE}", E, k.VALUE, run=r, name=HOSTILE, value={"repr": HOSTILE}))
    R = Relation
    edges = [
        edge(R.USED, "task:1", "value:1", role="x", time=T0 + 100.5, run=r),
        edge(R.WAS_GENERATED_BY, "value:alt", "task:1", role="return", time=T0 + 100.6, run=r),
        edge(R.WAS_ASSOCIATED_WITH, "wfrun:1", "worker:w", plan="plan:p", run=r),
        edge(R.WAS_ATTRIBUTED_TO, "value:1", "agent:bob", run=r),
        edge(R.WAS_DERIVED_FROM, "token:1@2", "token:1@1", run=r),
        edge(R.WAS_INFORMED_BY, "task:1", r, role="parent", run=r),
        edge(R.WAS_STARTED_BY, "loop:1", "value:1", time=T0 + 100.1, run=r),
        edge(R.WAS_ENDED_BY, "loop:1", "value:alt", time=T0 + 100.9, run=r),
        edge(R.WAS_INVALIDATED_BY, "token:1@1", "cb:1", time=T0 + 100.7, run=r),
        edge(R.ACTED_ON_BEHALF_OF, "agent:sw", "agent:bob", run=r),
        edge(R.HAD_MEMBER, "campaign:c", "wf:1", run=r),
        edge(R.SPECIALIZATION_OF, "token:1@2", "wf:1", run=r),
        edge(R.ALTERNATE_OF, "value:alt", "value:1", run=r),
        edge(R.WAS_INFLUENCED_BY, "module:numpy", "env:PATH", run=r),
        edge(R.USED, "restore:1", f"value:{HOSTILE}", role=HOSTILE, run=r),
        edge(R.WAS_ASSOCIATED_WITH, "cb:1", "host:h", run=r),
        edge(R.USED, "wfrun:1", "def:f", run=r),
        edge(R.WAS_INFLUENCED_BY, "annotation:1", "task:1", role="annotates", run=r),
        edge(R.WAS_ATTRIBUTED_TO, "annotation:1", "agent:bob", role="author", run=r),
    ]
    return nodes, edges


def demo_records() -> tuple[list[Node], list[Edge]]:
    """Both runs' records, as a producer would write them (compact activations included)."""
    n1, e1 = _trial()
    n2, e2 = _every_kind()
    return n1 + n2, e1 + e2
