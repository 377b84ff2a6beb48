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

from flask import Blueprint, Response, abort, g, jsonify, request, send_file

from kg import content
from kg.exceptions import InputError
from kg.model.records import Edge, Node, edge, node
from kg.model.terms import TOP_LEVEL_KINDS, Kind, ProvClass, Relation
from kg.stores import Store
from kg.stores.jsonl import encode_records, parse_records
from kg.web._users import ANONYMOUS, User, authenticate, check_name

__all__ = ["hub_blueprint", "experiment_id", "WRITE_PATHS"]

EXPERIMENT_PREFIX = "experiment:"
USER_PREFIX = "hub-user:"
# Paths where the otherwise read-only app accepts POST and PUT.
WRITE_PATHS = ("/experiments", "/hub/")
_MAX_HASHES = 100_000


def experiment_id(name: str) -> str:
    return EXPERIMENT_PREFIX + name


def hub_blueprint(store: Callable[[], Store], users: Path, admin_token: str | None, open_: bool) -> Blueprint:
    """The hub's endpoints over the store that ``store()`` returns for the current request."""
    bp = Blueprint("hub", __name__)

    def user() -> User:
        """The request's user; 401 without a valid token (unless the server is --open)."""
        if "hub_user" not in g:
            auth = request.headers.get("Authorization", "")
            token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            found = authenticate(users, token, admin_token)
            if found is None:
                if token or not open_:
                    abort(401, "a valid token is needed (send KG_TOKEN as 'Authorization: Bearer TOKEN')")
                found = User(ANONYMOUS, admin=True)  # --open: a trusted network
            g.hub_user = found
        return g.hub_user  # type: ignore[no-any-return]

    def experiment(name: str) -> Node | None:
        check_name(name, "experiment name")
        return store().get_node(experiment_id(name))

    def may(u: User, exp: Node) -> bool:
        # Owners and grantees read and write; there is no read-only grant yet.
        return u.admin or exp.props.get("owner") == u.name or exp.props.get("name") in u.grants

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
        ids = [e.dst for e in s.find_edges(src=exp_id, rel=Relation.HAD_MEMBER.value)]
        found = s.get_nodes(ids)
        return sorted((found[i] for i in ids if i in found), key=lambda n: (n.props.get("seq") or 0, n.id))

    def summary(exp: Node) -> dict[str, Any]:
        return {"name": exp.props.get("name"), "owner": exp.props.get("owner"),
                "runs": [{"id": r.id, "kind": r.kind, "name": r.props.get("name"),
                          "status": r.props.get("status"), "seq": r.props.get("seq")}
                         for r in members(exp.id)]}

    @bp.get("/experiments")
    def list_experiments() -> Response:
        u = user()
        exps = [n for n in store().find_nodes(kind=Kind.CAMPAIGN.value, id_prefix=EXPERIMENT_PREFIX) if may(u, n)]
        return jsonify([summary(e) for e in exps])

    @bp.get("/experiments/<name>")
    def show_experiment(name: str) -> Response:
        return jsonify(summary(readable(name)))

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
        u = user()
        exp = experiment(name)
        if exp is not None and not may(u, exp):
            abort(403, f"user {u.name!r} may not write experiment {name!r}")
        nodes, edges = parse_records(request.get_data().splitlines(), f"experiment {name} push")
        runs = [n for n in nodes if n.kind in TOP_LEVEL_KINDS]
        if not runs:
            raise InputError("the pushed records hold no run (a Trial or Run node)")
        _check_records(store(), u, nodes, edges, {r.id for r in runs}, may)
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

    @bp.post("/hub/content/missing")
    def missing() -> Response:
        user()
        body = request.get_json(silent=True)
        hashes = body.get("hashes") if isinstance(body, dict) else None
        if not isinstance(hashes, list) or len(hashes) > _MAX_HASHES:
            abort(400, f'send {{"hashes": [SHA256, ...]}} (at most {_MAX_HASHES:,})')
        return jsonify({"missing": [h for h in hashes if not content.has(h)]})

    @bp.route("/hub/content/<sha>", methods=["GET", "HEAD"])
    def get_content(sha: str) -> Response:
        user()
        path = content.object_path(sha)
        if not path.exists():
            abort(404, f"content {sha[:12]} is not on this hub")
        return send_file(path, mimetype="application/octet-stream", conditional=False, etag=False)

    @bp.put("/hub/content/<sha>")
    def put_content(sha: str) -> tuple[Response, int]:
        user()
        content.object_path(sha)  # a malformed name is refused before the body is read
        data = request.get_data()
        if hashlib.sha256(data).hexdigest() != sha:
            abort(400, f"the body's sha256 is not {sha}")
        existed = content.has(sha)
        content.put_bytes(data)
        return jsonify({"sha256": sha, "size": len(data)}), 200 if existed else 201

    return bp


def _check_records(s: Store, u: User, nodes: list[Node], edges: list[Edge], runs: set[str],
                   may: Callable[[User, Node], bool]) -> None:
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
            if exp is not None and m.src.startswith(EXPERIMENT_PREFIX) and not may(u, exp):
                abort(403, f"run {rid} belongs to experiment {exp.props.get('name')!r}, "
                           f"which user {u.name!r} may not write")
