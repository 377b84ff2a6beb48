"""The Flask application of `kg serve`: read-only pages over one store, each at a shareable URL.

Pages are rendered on the server (Jinja2, autoescaped); the tree, the history and the
lineage graphs get their data as JSON (an endpoint, or a ``<script type="application/json">``
block) and draw it with small scripts that never build HTML from strings."""
from __future__ import annotations

import secrets
from dataclasses import asdict, is_dataclass
from typing import Any

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from kg import content
from kg._version import __version__
from kg.config import store_uri as resolve_uri
from kg.exceptions import ConfigError, InputError, KGError, NotFound
from kg.model.records import Node
from kg.stores import Store, is_server_uri, open_store
from kg.web._compare import diff_page, history_page
from kg.web._lineage import lineage_page
from kg.web._runs import CHILD_PAGE, RunFilter, children_page, list_runs, run_page, text_of
from kg.web._access import Access
from kg.web._users import users_file
from kg.web._workflows import workflow_page, workflows_page
from kg.web.hub import WRITE_PATHS, hub_blueprint, wants_html

__all__ = ["create_app"]

# Scripts only from our own static files: a name that slipped past escaping still could not run.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def _store() -> Store:
    # An embedded store is opened per request: cheap, and each request sees what another
    # process (a `kg run` going on) committed since. A server store is shared: its driver is
    # thread-safe and pools its connections, which a per-request driver would throw away.
    if "kg_store" not in g:
        g.kg_store = g.kg_shared or open_store(g.kg_uri, create=False)
    return g.kg_store  # type: ignore[no-any-return]


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        abort(400, f"{name} must be a number, not {raw!r:.40}")
    return max(lo, min(hi, value))


# Paths a guarded server serves without a signed-in user.
_PUBLIC = ("/login", "/logout", "/static/", "/favicon.ico")


def _access() -> Access:
    return g.kg_access  # type: ignore[no-any-return]


def _admin_only(what: str) -> None:
    if not _access().user().admin:
        abort(403, f"{what} are shown to the hub's admin only (they belong to no experiment)")


# Largest request body (a pushed run's records, or one content object): kg's own content limit.
DEFAULT_MAX_BODY = content.DEFAULT_LIMIT


def create_app(store_uri: str | None = None, *, admin_token: str | None = None, open_: bool = False,
               max_body: int = DEFAULT_MAX_BODY, behind_proxy: bool = False) -> Flask:
    """The web application over the store ``store_uri`` (None: the configured default).

    The pages are read-only; the collaboration hub (kg.web.hub) takes pushes from users
    with a token (``admin_token``: one token allowed everything; ``open_``: no token needed)."""
    uri = resolve_uri(store_uri)
    if uri.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{uri}: a Redis stream is write-only; store it with `kg consume` and serve that store")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body
    # Fail now, with the CLI's one-line error, rather than on the first request.
    first = open_store(uri, create=False)
    shared: Store | None = first if is_server_uri(uri) else None
    if shared is None:
        first.close()

    access = Access(users_file(uri), admin_token, open_)
    # Sessions only carry a signed-in token; a new secret per start signs everyone out, which
    # is what a restarted server with changed users should do anyway.
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    if behind_proxy:
        # A TLS proxy in front: trust its X-Forwarded-* headers (one hop), and send the session
        # cookie over HTTPS only.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
        app.config["SESSION_COOKIE_SECURE"] = True

    @app.before_request
    def _bind() -> Any:
        if request.method not in ("GET", "HEAD") and not request.path.startswith((*WRITE_PATHS, "/login")):
            abort(405)
        g.kg_uri = uri
        g.kg_shared = shared
        g.kg_access = access
        # The pages of a guarded server are for signed-in users; the hub's API answers 401 itself.
        api = request.path.startswith(WRITE_PATHS) and not wants_html()
        if access.guarded() and not api and not request.path.startswith(_PUBLIC):
            if access.signed_in() is None:
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
        return None

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        s = g.pop("kg_store", None)
        if s is not None and s is not shared:
            s.close()

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"version": __version__, "store_uri": _store().uri if "kg_store" in g else ""}

    _routes(app)
    app.register_blueprint(hub_blueprint(_store, access))
    _errors(app)
    return app


def _plain(value: Any) -> Any:
    """A page's data as JSON values: nodes as {id, cls, kind, props}, dataclasses as dicts."""
    if isinstance(value, Node):
        return {"id": value.id, "cls": value.cls, "kind": value.kind, "props": _plain(value.props)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    return value


def _page(template: str, **data: Any) -> Any:
    """The page, or its JSON twin when the URL ends in ``.json`` (same data, same query string)."""
    if request.path.endswith(".json"):
        return jsonify(_plain(data))
    return render_template(template, **data)


def _routes(app: Flask) -> None:
    @app.get("/")
    def runs() -> Any:
        a = request.args
        flt = RunFilter(q=a.get("q", ""), kind=a.get("kind", ""), status=a.get("status", ""),
                        since=a.get("since", ""), until=a.get("until", ""), campaign=a.get("campaign", ""))
        visible = _access().visible_runs(_store())
        rows = list_runs(_store(), flt, visible)
        total = len(_store().runs()) if visible is None else len(visible)
        return _page("runs.html", rows=rows, flt=flt, total=total)

    @app.get("/run/<ref>")
    def run(ref: str) -> Any:
        node = _store().resolve_run(ref)
        _access().check_nodes(_store(), [node])
        return _page("run.html", page=run_page(_store(), node), child_page=CHILD_PAGE)

    @app.get("/api/children")
    def children() -> Response:
        node_id = request.args.get("id", "")
        if not node_id:
            abort(400, "give the node: ?id=NODE_ID")
        found = _store().get_node(node_id)
        _access().check_nodes(_store(), [found] if found else [])
        return jsonify(children_page(_store(), node_id, _int_arg("offset", 0, 0, 10**9),
                                     _int_arg("limit", CHILD_PAGE, 1, 1000)))

    @app.get("/history")
    def history() -> Any:
        page = history_page(_store())
        visible = _access().visible_runs(_store())
        if visible is not None:  # only the user's trials, and no text graph that would name others
            page["rows"] = [r for r in page["rows"] if r["id"] in visible]
            page["elements"] = [e for e in page["elements"]
                                if all(e["data"].get(k) in visible for k in ("source", "target"))
                                or "source" not in e["data"] and e["data"]["id"] in visible]
            page["lines"] = []
        return _page("history.html", page=page)

    @app.get("/diff")
    def diff() -> Any:
        a, b = request.args.get("a", ""), request.args.get("b", "")
        if not a or not b:
            abort(400, "give two trials: /diff?a=1&b=2")
        ta, tb = _store().resolve_run(a), _store().resolve_run(b)
        _access().check_nodes(_store(), [ta, tb])
        return _page("diff.html", page=diff_page(_store(), ta, tb))

    @app.get("/lineage")
    def lineage() -> Any:
        ref = request.args.get("id", "")
        if not ref:
            abort(400, "give the node: /lineage?id=NODE_ID")
        start = _store().resolve_node(ref)
        _access().check_nodes(_store(), [start])
        visible = _access().visible_runs(_store())
        return _page("lineage.html", page=lineage_page(_store(), start, _int_arg("depth", 3, 1, 20), visible))

    @app.get("/content/<sha>")
    def stored_content(sha: str) -> Any:
        u = _access().user()
        seen = _access().readable_contents(_store(), u)
        if seen is not None and sha not in seen:
            abort(403, f"no experiment user {u.name!r} may read names content {sha[:12]}")
        data = content.get(sha)
        name = request.args.get("name", "") or sha[:12]
        text = None if request.args.get("download") else text_of(sha)
        if text is None:
            safe = "".join(c for c in name.rsplit("/", 1)[-1] if c.isalnum() or c in "._-") or "content"
            return Response(data, mimetype="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{safe}"'})
        return render_template("content.html", sha=sha, name=name, text=text, size=len(data))

    @app.get("/workflows")
    def workflows() -> Any:
        _admin_only("engine workflows")
        return _page("workflows.html", rows=workflows_page(_store()))

    @app.get("/workflow/<ref>")
    def workflow(ref: str) -> Any:
        _admin_only("engine workflows")
        return _page("workflow.html", page=workflow_page(_store(), ref))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = request.values.get("next", "")
        # Only a path on this server: "//host" and "/\host" are other sites to a browser.
        local = target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target
        target = target if local else url_for("runs")
        error = ""
        if request.method == "POST":
            if _access().login(request.form.get("token", "")) is not None:
                return redirect(target)
            error = "That token is not valid here."
        return render_template("login.html", next=target, error=error), 401 if error else 200

    @app.get("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("login"))

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    # The JSON twins: own endpoints, so url_for() of a page names the page, not its twin.
    for endpoint, rule in (("runs", "/runs.json"), ("run", "/run/<ref>.json"), ("history", "/history.json"),
                           ("diff", "/diff.json"), ("lineage", "/lineage.json"), ("workflows", "/workflows.json"),
                           ("workflow", "/workflow/<ref>.json")):
        app.add_url_rule(rule, f"{endpoint}_json", app.view_functions[endpoint], methods=["GET"])


def _errors(app: Flask) -> None:
    def page(code: int, title: str, message: str) -> tuple[Any, int]:
        if request.path.endswith(".json") or request.path.startswith(("/api/", *WRITE_PATHS)):
            return jsonify({"error": message, "status": code}), code
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> tuple[Any, int]:
        return page(404, "Not found", str(exc))

    @app.errorhandler(InputError)
    def bad_input(exc: InputError) -> tuple[Any, int]:
        return page(404 if request.path.startswith("/content/") else 400, "Bad request", str(exc))

    @app.errorhandler(KGError)
    def kg_error(exc: KGError) -> tuple[Any, int]:
        return page(500, "Error", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int]:
        return page(exc.code or 500, exc.name, str(exc.description or ""))

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> tuple[Any, int]:
        # A bug is logged with its traceback on the server; the browser gets one line, no trace.
        app.logger.exception("kg serve: %s %s failed", request.method, request.path)
        return page(500, "Internal error", f"{type(exc).__name__}: the server log has the details")

