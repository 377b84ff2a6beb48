"""Who a request comes from, and what they may see.

A hub client sends its token as ``Authorization: Bearer``; a browser signs in once at
``/login`` and keeps a signed session cookie. A server with hub users or a --token-file is
*guarded*: its pages, too, show a signed-in user only the runs of experiments they may read
(the admin token sees everything). A server with neither shows the whole store, as a local
viewer does, and takes no writes unless it is --open."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from flask import abort, g, request, session

from kg.hub_client import content_hashes
from kg.model.records import Node
from kg.model.terms import Kind, Relation
from kg.stores import Store
from kg.web._users import ANONYMOUS, User, authenticate, has_users

__all__ = ["Access", "EXPERIMENT_PREFIX", "member_ids", "experiment_hashes"]

EXPERIMENT_PREFIX = "experiment:"


class Access:
    """The server's users file and tokens, asked per request (a user added meanwhile counts)."""

    def __init__(self, users: Path, admin_token: str | None, open_: bool) -> None:
        self.users = users
        self.admin_token = admin_token
        self.open = open_

    def guarded(self) -> bool:
        return not self.open and (bool(self.admin_token) or has_users(self.users))

    def token(self) -> str:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        return str(session.get("token") or "")

    def login(self, token: str) -> User | None:
        found = authenticate(self.users, token.strip(), self.admin_token)
        if found is not None:
            session.clear()
            session["token"] = token.strip()
        return found

    def signed_in(self) -> User | None:
        """The holder of the request's token (header or session), or None; looked up once a request."""
        if "kg_signed_in" not in g:
            token = self.token()
            g.kg_signed_in = authenticate(self.users, token, self.admin_token) if token else None
        return g.kg_signed_in  # type: ignore[no-any-return]

    def user(self, write: bool = False) -> User:
        """The request's user; 401 without a valid token where one is needed."""
        found = self.signed_in()
        if found is not None:
            return found
        # An --open hub trusts its network; an unguarded one is a local viewer: it shows what
        # it holds to whoever reaches it, but takes no writes.
        if self.token() or not (self.open or (not write and not self.guarded())):
            abort(401, "a valid token is needed (send KG_TOKEN as 'Authorization: Bearer TOKEN', "
                       "or sign in at /login)")
        return User(ANONYMOUS, admin=True)

    def may(self, u: User, exp: Node, write: bool = False) -> bool:
        return u.may(str(exp.props.get("name")), exp.props.get("owner"), write)

    def readable_experiments(self, store: Store, u: User) -> list[Node]:
        return [n for n in store.find_nodes(kind=Kind.CAMPAIGN.value, id_prefix=EXPERIMENT_PREFIX)
                if self.may(u, n)]

    def visible_runs(self, store: Store) -> set[str] | None:
        """The runs the request's user may see (None: every one)."""
        u = self.user()
        if u.admin:
            return None
        if "kg_visible" not in g:
            g.kg_visible = {r for exp in self.readable_experiments(store, u) for r in member_ids(store, exp.id)}
        return g.kg_visible  # type: ignore[no-any-return]

    def readable_contents(self, store: Store, u: User) -> frozenset[str] | None:
        """The content hashes named by runs the user may read (None: every content, for the admin)."""
        if u.admin:
            return None
        return frozenset().union(*(experiment_hashes(store, e) for e in self.readable_experiments(store, u)))

    def check_nodes(self, store: Store, nodes: Iterable[Node]) -> None:
        """403 unless every node is a shared one (no run) or in a run the user may see."""
        visible = self.visible_runs(store)
        if visible is None:
            return
        for n in nodes:
            run = n.props.get("run") or (n.id if n.kind in (Kind.RUN.value, Kind.TRIAL.value) else None)
            if run and run not in visible:
                abort(403, f"user {self.user().name!r} may not read {n.id!r} (no experiment of theirs holds its run)")


def member_ids(store: Store, exp_id: str) -> list[str]:
    """The runs an experiment (a Campaign collection) HAD_MEMBER."""
    return [e.dst for e in store.find_edges(src=exp_id, rel=Relation.HAD_MEMBER.value)]


_hashes_seen: dict[tuple[str, ...], frozenset[str]] = {}


def experiment_hashes(store: Store, exp: Node) -> frozenset[str]:
    """The content hashes the experiment's runs name, kept while its runs stay as they are."""
    runs = member_ids(store, exp.id)
    status = store.get_nodes(runs)
    key = (store.uri, exp.id, *sorted(f"{r}:{status[r].props.get('status') if r in status else ''}" for r in runs))
    if key not in _hashes_seen:
        if len(_hashes_seen) > 64:
            _hashes_seen.clear()
        _hashes_seen[key] = frozenset(content_hashes(store.run_records(runs)[0]))
    return _hashes_seen[key]
