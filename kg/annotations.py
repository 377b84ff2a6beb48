"""Annotations: a person's note (text, author, time) on a run, a trial or any node, kept as PROV.

An annotation is an Entity of kind Annotation that WAS_ATTRIBUTED_TO its author (a Person
agent, the same one capture records as a run's user) and WAS_INFLUENCED_BY what it is about
(role ``annotates``). It belongs to the run of its target (``run`` prop), so it travels with
that run: exports, `kg push`, hub pushes and pulls, bundles. The hub stamps annotations made
on an experiment itself (kg.web.hub)."""
from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterable

from kg.exceptions import InputError, NotFound
from kg.ids import login_name, person_id
from kg.model import Kind, ProvClass, Relation, edge, node
from kg.model.records import Edge, Node
from kg.stores import Store

__all__ = ["annotate", "annotation_records", "annotations_of", "run_annotations", "default_author", "MAX_TEXT",
           "ROLE"]

ROLE = "annotates"
MAX_TEXT = 10_000  # a note, not a document: a bigger one belongs in a file the run keeps


def default_author() -> str:
    """$KG_USER, else ``user@host`` as capture names a run's user (so both are one Person)."""
    return os.environ.get("KG_USER") or f"{login_name()}@{socket.gethostname()}"


def annotation_records(target: Node, text: str, author: str, when: float | None = None,
                       run: str | None = None) -> tuple[Node, list[Node], list[Edge]]:
    """The annotation of ``target`` and the records that make it PROV (not yet written)."""
    text = text.strip()
    if not text:
        raise InputError("an annotation needs some text")
    if len(text) > MAX_TEXT:
        raise InputError(f"an annotation holds at most {MAX_TEXT:,} characters (this one {len(text):,})")
    if "\x00" in text:
        raise InputError("an annotation's text may not hold NUL characters")
    run = (run or None) if run is not None else _run_of(target)
    when = time.time() if when is None else when
    aid = f"annotation:{uuid.uuid4().hex}"
    person = person_id(author)
    ann = node(aid, ProvClass.ENTITY, Kind.ANNOTATION, name=_title(text), text=text, author=author,
               created=when, target=target.id, **({"run": run} if run else {}))
    extra = {"run": run} if run else {}
    edges = [edge(Relation.WAS_INFLUENCED_BY, aid, target.id, role=ROLE, **extra),
             edge(Relation.WAS_ATTRIBUTED_TO, aid, person, role="author", time=when, **extra)]
    return ann, [ann, node(person, ProvClass.AGENT, Kind.PERSON, name=author)], edges


def annotate(store: Store, target: str, text: str, author: str | None = None, run: str | None = None) -> Node:
    """Annotate ``target`` (a run number, id or prefix, or any node id) in ``store``; the new node.

    The note belongs to ``run`` when given, else to the target's run; a shared node (a file
    version, a module) has none, and its note goes with the latest run that recorded it."""
    found = _target(store, target)
    owner = store.resolve_run(run).id if run else _run_of(found) or _latest_run_using(store, found.id)
    ann, nodes, edges = annotation_records(found, text, author or default_author(), run=owner or "")
    store.write(nodes, edges)
    return ann


def annotations_of(store: Store, ids: Iterable[str]) -> list[Node]:
    """The annotations of the given nodes, oldest first."""
    found: list[str] = []
    for i in ids:
        found += [e.src for e in store.find_edges(dst=i, rel=Relation.WAS_INFLUENCED_BY.value)
                  if e.props.get("role") == ROLE]
    nodes = store.get_nodes(found)
    return sorted((nodes[i] for i in set(found) if i in nodes), key=lambda n: (n.props.get("created") or 0, n.id))


def run_annotations(store: Store, run: str | None) -> list[Node]:
    """Every annotation on the run or anything in it (every one in the store when None), oldest first."""
    notes = store.find_nodes(kind=Kind.ANNOTATION.value, run=run or None)
    return sorted(notes, key=lambda n: (n.props.get("created") or 0, n.id))


def _target(store: Store, ref: str) -> Node:
    got = store.get_node(ref)
    if got is not None:
        return got
    try:
        return store.resolve_run(ref)
    except NotFound:
        raise NotFound(f"nothing to annotate: {ref!r} is neither a run (number, id, prefix) nor a node id") from None


def _run_of(target: Node) -> str | None:
    # A run's own node carries run=itself; shared nodes (files, agents) carry none.
    run = target.props.get("run")
    return str(run) if run else (target.id if target.kind in (Kind.RUN.value, Kind.TRIAL.value) else None)


def _latest_run_using(store: Store, node_id: str) -> str | None:
    runs = {str(e.props["run"]) for e in [*store.find_edges(dst=node_id), *store.find_edges(src=node_id)]
            if e.props.get("run")}
    found = store.get_nodes(runs)
    ranked = sorted((int(n.props.get("seq") or 0), n.id) for n in found.values()
                    if n.kind in (Kind.RUN.value, Kind.TRIAL.value))
    return ranked[-1][1] if ranked else None


def _title(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= 60 else first[:59] + "…"
