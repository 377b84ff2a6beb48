"""`kg push --to http://HOST:PORT/experiments/NAME` and `kg pull --from ...`: runs and the file
contents they reference, moved through a `kg serve` hub (kg.web.hub).

Only what the other side lacks travels: runs already in the experiment (push) or in the
local store (pull) are skipped, and contents are offered by sha256 first. Contents go
before records, so a copy cut short never leaves runs whose contents are missing."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kg import content
from kg._trialdata import is_sha256
from kg.exceptions import AccessDenied, InputError, NotFound, StoreError
from kg.model.records import Edge, Node
from kg.model.terms import TOP_LEVEL_KINDS
from kg.stores import Store

__all__ = ["HubReport", "is_hub_url", "push_runs", "pull_runs", "hub_cli", "content_hashes", "PULLED_FROM",
           "annotate_experiment", "experiment_annotations", "mark_pulled", "pulled_mark"]

# Set on a pulled run: `kg restore` then writes its files below the current directory only.
PULLED_FROM = "pulled_from"
_URL_RE = re.compile(r"^(https?://[^/?#]+)/experiments/([A-Za-z0-9][A-Za-z0-9._-]{0,99})/?$")
_TIMEOUT = 300


@dataclass
class HubReport:
    """What a push or pull moved, and what it found already there."""

    runs: int = 0
    skipped: int = 0
    records: int = 0
    contents: int = 0
    content_bytes: int = 0
    notes: int = 0  # on the experiment itself (kg annotations URL lists them)


def is_hub_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("http://", "https://"))


def _parse_url(url: str) -> tuple[str, str]:
    m = _URL_RE.match(url)
    if not m:
        raise InputError(f"{url!r} is not a hub experiment URL (http://HOST:PORT/experiments/NAME)")
    return m.group(1), m.group(2)


class _Hub:
    """One hub, one experiment: requests with the token, hub errors as KGErrors."""

    def __init__(self, url: str, token: str | None) -> None:
        import requests

        self.base, self.name = _parse_url(url)
        self.url = url
        self.http = requests.Session()
        token = token or os.environ.get("KG_TOKEN")
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kw: Any) -> Any:
        import requests

        try:
            resp = self.http.request(method, self.base + path, timeout=_TIMEOUT, **kw)
        except requests.RequestException as exc:
            raise StoreError(f"hub {self.base} unreachable: {type(exc).__name__}") from None
        if resp.status_code in ok:
            return resp
        try:
            why = resp.json().get("error") or resp.reason
        except ValueError:
            why = resp.reason
        where = f"{method} {self.base}{path}"
        if resp.status_code in (401, 403):
            raise AccessDenied(f"hub refused {where}: {why}")
        if resp.status_code == 404:
            raise NotFound(f"hub: {why}")
        if resp.status_code == 413:
            raise InputError(f"hub refused {where}: the request is larger than the hub's body limit "
                             "(kg serve --max-body)")
        raise StoreError(f"hub: {where} failed ({resp.status_code}): {why}")

    def experiment(self) -> dict[str, Any] | None:
        resp = self.call("GET", f"/experiments/{self.name}", ok=(200, 404))
        if resp.status_code == 404:
            return None
        return resp.json()  # type: ignore[no-any-return]

    def missing(self, shas: list[str]) -> list[str]:
        if not shas:
            return []
        return list(self.call("POST", "/hub/content/missing", json={"hashes": shas}).json()["missing"])


def content_hashes(nodes: Iterable[Node]) -> list[str]:
    """Every content hash the records name: file versions, accesses (before/after), scripts, modules."""
    found: set[str] = set()
    for n in nodes:
        for key in ("sha256", "before", "after", "code_hash", "hash"):
            v = n.props.get(key)
            if is_sha256(v):
                found.add(str(v))
    return sorted(found)


def _state(listed: dict[str, Any]) -> tuple[Any, int]:
    """What says a run changed since it last travelled: its status (pushed while running, then
    finished) and its annotations (a collaborator's note is added to a finished run)."""
    return listed.get("status"), int(listed.get("annotations") or 0)


def _local_state(store: Store, run: Node) -> tuple[Any, int]:
    from kg.annotations import run_annotations

    return run.props.get("status"), len(run_annotations(store, run.id))


def annotate_experiment(url: str, text: str, token: str | None = None) -> dict[str, Any]:
    """Write a note on the hub experiment ``url`` as the token's user; the note's props."""
    hub = _Hub(url, token)
    return hub.call("POST", f"/experiments/{hub.name}/annotations", json={"text": text}).json()  # type: ignore[no-any-return]


def experiment_annotations(url: str, token: str | None = None) -> list[dict[str, Any]]:
    """The notes on the hub experiment ``url`` itself (those on its runs travel with them)."""
    hub = _Hub(url, token)
    exp = hub.experiment()
    if exp is None:
        raise NotFound(f"hub {hub.base} has no experiment {hub.name!r}")
    return list(exp.get("annotations") or [])


def push_runs(store: Store, url: str, runs: list[str], token: str | None = None) -> HubReport:
    """Push the named runs (all when empty) and the contents they reference into the experiment."""
    from kg.stores.jsonl import encode_records

    hub = _Hub(url, token)
    exp = hub.experiment()
    # A run the hub has with the same status is skipped; one pushed while it was still
    # running is pushed again once finished (records are upserts: nothing is doubled).
    there = {r["id"]: _state(r) for r in exp["runs"]} if exp else {}
    chosen = [store.resolve_run(r) for r in runs] if runs else store.runs()
    report = HubReport()
    for run in chosen:
        if there.get(run.id) == _local_state(store, run):
            report.skipped += 1
            continue
        # compact activities travel compact: the hub expands them itself (a third of the bytes, too)
        it_nodes, it_edges = store.run_records([run.id], expand=False)
        nodes, edges = list(it_nodes), list(it_edges)
        shas = [s for s in content_hashes(nodes) if content.has(s)]  # above the size limit: never kept
        for sha in hub.missing(shas):
            data = content.get(sha)
            hub.call("PUT", f"/hub/content/{sha}", data=data,
                     headers={"Content-Type": "application/octet-stream"})
            report.contents += 1
            report.content_bytes += len(data)
        hub.call("POST", f"/experiments/{hub.name}/runs", data=encode_records(nodes, edges),
                 headers={"Content-Type": "application/x-ndjson"})
        report.runs += 1
        report.records += len(nodes) + len(edges)
    return report


def pull_runs(store: Store, url: str, runs: list[str], token: str | None = None) -> HubReport:
    """Pull the experiment's runs (or the named ids) that ``store`` lacks, with their contents."""
    from kg.stores.jsonl import parse_records

    hub = _Hub(url, token)
    exp = hub.experiment()
    if exp is None:
        raise NotFound(f"hub {hub.base} has no experiment {hub.name!r}")
    listed = {r["id"]: _state(r) for r in exp["runs"]}
    wanted = [r for r in listed if not runs or r in runs or any(r.startswith(p) for p in runs)]
    if runs and not wanted:
        raise NotFound(f"experiment {hub.name!r} has none of the runs {', '.join(runs)}")
    report = HubReport(notes=len(exp.get("annotations") or []))
    here = store.get_nodes(wanted)
    fresh = [r for r in wanted if r not in here or _local_state(store, here[r]) != listed[r]]
    report.skipped = len(wanted) - len(fresh)
    if not fresh:
        return report
    resp = hub.call("GET", f"/experiments/{hub.name}/runs.jsonl", params=[("run", r) for r in fresh])
    nodes, edges = parse_records(resp.content.splitlines(), f"{hub.base} experiment {hub.name}")
    lacking = [s for s in content_hashes(nodes) if not content.has(s)]
    there = set(lacking) - set(hub.missing(lacking))
    for sha in sorted(there):
        data = hub.call("GET", f"/hub/content/{sha}", params={"experiment": hub.name}).content
        if content.hash_bytes(data) != sha:
            raise StoreError(f"hub {hub.base} sent corrupt content for {sha[:12]} (hash mismatch)")
        content.put_bytes(data)
        report.contents += 1
        report.content_bytes += len(data)
    nodes = [pulled_mark(n, url) for n in nodes]
    store.write(nodes, edges)
    report.runs = len(fresh)
    report.records = len(nodes) + len(edges)
    return report


def pulled_mark(n: Node, url: str) -> Node:
    if n.kind in TOP_LEVEL_KINDS and not n.props.get("parent"):
        return Node(n.id, n.cls, n.kind, {**n.props, PULLED_FROM: url})
    return n


def mark_pulled(store: Store, runs: list[str], source: str) -> None:
    """Say on each run that it came from ``source`` (a Neo4j pull): `kg restore` then writes its
    files below the current directory only, and says where its missing contents were."""
    found = store.get_nodes(runs)
    store.write([pulled_mark(found[r], source) for r in runs if r in found], [])




def hub_cli(ctx: Any, direction: str, url: str, runs: tuple[str, ...], token: str | None) -> None:
    """What `kg push` / `kg pull` do with a hub URL; one summary line on stderr."""
    import click

    if direction == "push":
        r = push_runs(ctx.store, url, list(runs), token)
        verb, prep, there = "pushed", "to", "already in the experiment"
    else:
        r = pull_runs(ctx.writable, url, list(runs), token)
        verb, prep, there = "pulled", "from", "already here"
    click.echo(f"{verb} {r.runs} runs ({r.records} records) and {r.contents} contents ({r.content_bytes:,} bytes) "
               f"{prep} {url}; {r.skipped} runs {there}", err=True)
    if r.notes:
        click.echo(f"the experiment has {r.notes} notes of its own: kg annotations {url}", err=True)
