"""The collaboration hub of `kg serve`: experiments (named groups of runs) pushed and pulled with
their file contents, behind per-user tokens.

An experiment is a PROV collection in the served store: an Entity ``experiment:NAME`` (kind
Campaign, exported as prov:Collection) that HAD_MEMBER each run and WAS_ATTRIBUTED_TO its owner,
so it shows in every export. Runs travel as the JSONL records of `kg export -F jsonl` /
`kg load`; contents travel one object per request, named by sha256, and only the ones the
other side lacks (``POST /hub/content/missing``)."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_file

from kg import content
from kg.annotations import annotation_records, annotations_of, run_annotations
from kg.exceptions import InputError
from kg.model.records import Edge, Node, edge, node
from kg.model.terms import TOP_LEVEL_KINDS, Kind, ProvClass, Relation
from kg.stores import Store
from kg.stores.jsonl import encode_records, parse_records
from kg.web._access import EXPERIMENT_PREFIX, Access, experiment_hashes, member_ids
from kg.web._runs import note_row
from kg.web._users import User, check_name

__all__ = ["hub_blueprint", "experiment_id", "wants_html", "WRITE_PATHS"]

USER_PREFIX = "hub-user:"
# Paths where the otherwise read-only app accepts POST and PUT.
WRITE_PATHS = ("/experiments", "/hub/")
_MAX_HASHES = 100_000


def experiment_id(name: str) -> str:
    return EXPERIMENT_PREFIX + name


def hub_blueprint(store: Callable[[], Store], access: Access) -> Blueprint:
    """The hub's endpoints over the store that ``store()`` returns for the current request."""
    bp = Blueprint("hub", __name__)
    user, may = access.user, access.may

    def experiment(name: str) -> Node | None:
        check_name(name, "experiment name")
        return store().get_node(experiment_id(name))

    def readable(name: str) -> Node:
        u = user()
        exp = experiment(name)
        if exp is None:
            abort(404, f"no experiment {name!r}")
        if not may(u, exp):
            abort(403, f"user {u.name!r} may not read experiment {name!r}")
        return exp

    def members(exp_id: str) -> list[Node]:
        s = store()
        ids = member_ids(s, exp_id)
        found = s.get_nodes(ids)
        return sorted((found[i] for i in ids if i in found), key=lambda n: (n.props.get("seq") or 0, n.id))

    def summary(exp: Node) -> dict[str, Any]:
        # ``annotations`` per run: a push or pull compares it with its own count (and the status)
        # to know whether a run changed since it last travelled.
        s = store()
        return {"name": exp.props.get("name"), "owner": exp.props.get("owner"),
                "runs": [{"id": r.id, "kind": r.kind, "name": r.props.get("name"),
                          "status": r.props.get("status"), "seq": r.props.get("seq"),
                          "annotations": len(run_annotations(s, r.id))}
                         for r in members(exp.id)],
                "annotations": [{"id": n.id, **n.props} for n in annotations_of(s, [exp.id])]}

    @bp.get("/experiments")
    def list_experiments() -> Any:
        u = user()
        rows = [summary(e) for e in access.readable_experiments(store(), u)]
        if wants_html():
            return render_template("experiments.html", rows=rows, user=u.name)
        return jsonify(rows)

    @bp.get("/experiments/<name>")
    def show_experiment(name: str) -> Any:
        exp = readable(name)
        if wants_html():
            return render_template("experiment.html", exp=summary(exp), page={
                "target": exp.id, "notes": [note_row(n) for n in annotations_of(store(), [exp.id])]})
        return jsonify(summary(exp))

    @bp.get("/experiments/<name>/runs.jsonl")
    def pull_runs(name: str) -> Response:
        exp = readable(name)
        ids = [r.id for r in members(exp.id)]
        wanted = request.args.getlist("run")
        unknown = sorted(set(wanted) - set(ids))
        if unknown:
            abort(404, f"experiment {name!r} has no run {unknown[0]!r}")
        return Response(encode_records(*store().run_records(wanted or ids, expand=False)),
                        mimetype="application/x-ndjson")

    @bp.post("/experiments/<name>/runs")
    def push_runs(name: str) -> tuple[Response, int]:
        u = user(write=True)
        exp = experiment(name)
        if exp is not None and not may(u, exp, write=True):
            abort(403, f"user {u.name!r} may not write experiment {name!r}")
        nodes, edges = parse_records(request.get_data().splitlines(), f"experiment {name} push")
        runs = [n for n in nodes if n.kind in TOP_LEVEL_KINDS]
        if not runs:
            raise InputError("the pushed records hold no run (a Trial or Run node)")
        _check_records(store(), u, nodes, edges, {r.id for r in runs}, may)
        nodes = _stamp_annotations(store(), nodes, u.name)
        now = time.time()
        eid = experiment_id(name)
        if exp is None:
            owner = node(USER_PREFIX + u.name, ProvClass.AGENT, Kind.PERSON, name=u.name)
            nodes += [owner, node(eid, ProvClass.ENTITY, Kind.CAMPAIGN, name=name, owner=u.name, created=now)]
            edges.append(edge(Relation.WAS_ATTRIBUTED_TO, eid, owner.id, role="owner"))
        edges += [edge(Relation.HAD_MEMBER, eid, r.id, added_by=u.name, added=now) for r in runs]
        store().write(nodes, edges)  # one transaction: the runs and their membership, or nothing
        return jsonify({"experiment": name, "runs": [r.id for r in runs], "nodes": len(nodes),
                        "edges": len(edges), "created": exp is None}), 201

    @bp.post("/experiments/<name>/annotations")
    def annotate_experiment(name: str) -> tuple[Response, int]:
        u = user(write=True)
        exp = experiment(name)
        if exp is None:
            abort(404, f"no experiment {name!r}")
        if not may(u, exp, write=True):
            abort(403, f"user {u.name!r} may not write experiment {name!r}")
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            abort(400, 'send {"text": "..."}')
        # The hub's user is the author: a note on the hub cannot be made in another's name.
        note, nodes, edges = annotation_records(exp, text, u.name)
        note.props["pushed_by"] = u.name
        store().write(nodes, edges)
        return jsonify({"id": note.id, **note.props}), 201

    @bp.post("/hub/content/missing")
    def missing() -> Response:
        u = user(write=True)
        body = request.get_json(silent=True)
        hashes = body.get("hashes") if isinstance(body, dict) else None
        if not isinstance(hashes, list) or len(hashes) > _MAX_HASHES:
            abort(400, f'send {{"hashes": [SHA256, ...]}} (at most {_MAX_HASHES:,})')
        # Held means held *for this user*: a content only runs they may not read name is said to be
        # missing (their push sends it again, which changes nothing), so the answer tells no one
        # what others keep.
        seen = access.readable_contents(store(), u)
        return jsonify({"missing": [h for h in hashes if not content.has(h) or not (seen is None or h in seen)]})

    @bp.route("/hub/content/<sha>", methods=["GET", "HEAD"])
    def get_content(sha: str) -> Response:
        # A content is read through an experiment the user may read, and only if one of its
        # runs names it: a hash alone (seen in a log, guessed from a known file) opens nothing.
        u = user()
        path = content.object_path(sha)
        name = request.args.get("experiment", "")
        if not u.admin:
            if not name:
                abort(403, "name the experiment the content belongs to (?experiment=NAME)")
            if sha not in experiment_hashes(store(), readable(name)):
                abort(404, f"experiment {name!r} has no content {sha[:12]}")
        if not path.exists():
            abort(404, f"content {sha[:12]} is not on this hub")
        return send_file(path, mimetype="application/octet-stream", conditional=False, etag=False)

    @bp.put("/hub/content/<sha>")
    def put_content(sha: str) -> tuple[Response, int]:
        user(write=True)
        content.object_path(sha)  # a malformed name is refused before the body is read
        data = request.get_data()
        if hashlib.sha256(data).hexdigest() != sha:
            abort(400, f"the body's sha256 is not {sha}")
        existed = content.has(sha)
        content.put_bytes(data)
        return jsonify({"sha256": sha, "size": len(data)}), 200 if existed else 201

    return bp


def wants_html() -> bool:
    # A browser asks for text/html first; `kg pull` and scripts (Accept: */*) get JSON.
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _stamp_annotations(s: Store, nodes: list[Node], user: str) -> list[Node]:
    """New annotations get ``pushed_by`` (the hub's user: who vouches for them, whatever
    ``author`` says); one the hub has already is kept as the hub has it (notes are not edited)."""
    notes = [n.id for n in nodes if n.kind == Kind.ANNOTATION.value]
    if not notes:
        return nodes
    there = s.get_nodes(notes)
    out = []
    for n in nodes:
        if n.kind == Kind.ANNOTATION.value:
            n = there.get(n.id) or Node(n.id, n.cls, n.kind, {**n.props, "pushed_by": user})
        out.append(n)
    return out


def _check_records(s: Store, u: User, nodes: list[Node], edges: list[Edge], runs: set[str],
                   may: Callable[[User, Node, bool], bool]) -> None:
    """Refuse a push that would forge an experiment or its owner, or change a run of an
    experiment the user may not write (records carry their run in ``run``)."""
    for n in nodes:
        if n.id.startswith((EXPERIMENT_PREFIX, USER_PREFIX)):
            raise InputError(f"a push may not hold the hub's own record {n.id!r}")
    for e in edges:
        if e.src.startswith(EXPERIMENT_PREFIX) or e.rel == Relation.HAD_MEMBER.value and e.dst in runs:
            raise InputError(f"a push may not hold the hub's own record {e.src!r} {e.rel} {e.dst!r}")
    # Activities belong to one run; entities (files, versions, modules) are shared by the runs
    # that saw them and ride along with each: only an activity says whose run is changed.
    touched = runs | {str(n.props["run"]) for n in nodes if n.cls == ProvClass.ACTIVITY.value and n.props.get("run")}
    for rid in touched:
        for m in s.find_edges(dst=rid, rel=Relation.HAD_MEMBER.value):
            exp = s.get_node(m.src)
            if exp is not None and m.src.startswith(EXPERIMENT_PREFIX) and not may(u, exp, True):
                abort(403, f"run {rid} belongs to experiment {exp.props.get('name')!r}, "
                           f"which user {u.name!r} may not write")
