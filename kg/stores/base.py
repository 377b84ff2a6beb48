"""The Store contract: one small interface that the SQLite, Neo4j and JSONL stores all honour."""
from __future__ import annotations

import abc
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from kg.exceptions import AmbiguousReference, NotFound
from kg.model.records import Edge, Node
from kg.model.prov import explode, is_compact, ref_keys, value_owner
from kg.model.terms import LINEAGE_RELATIONS, Relation

__all__ = ["Store", "Subgraph"]


class Subgraph:
    """Nodes and edges returned by a traversal; ``depth`` maps node id to its distance from the start."""

    def __init__(self, nodes: Sequence[Node], edges: Sequence[Edge], depth: dict[str, int]) -> None:
        self.nodes = list(nodes)
        self.edges = list(edges)
        self.depth = depth

    def __repr__(self) -> str:
        return f"Subgraph({len(self.nodes)} nodes, {len(self.edges)} edges)"


class Store(abc.ABC):
    """A property graph of PROV records.

    Writes are idempotent upserts: a node is identified by ``id``, an edge by
    (src, rel, dst, role); writing one again merges its props. Top-level nodes
    (Run, Trial) get a sequence number the first time they are written."""

    uri: str = ""
    #: True if ``write`` itself stores the relations of a compact activity that reach beyond it
    #: (kg.model.prov.kept_relations: its parent, its references to other entities). A copy into
    #: such a store leaves out the source's stored copies of them (a dataflow USED is stored as
    #: an edge as well) instead of sending each twice.
    derives_kept_relations: bool = False

    # -- writing -------------------------------------------------------------
    @abc.abstractmethod
    def write(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        """Upsert ``nodes`` and ``edges``. Every record is checked before any is written (bad
        input writes nothing). The embedded store commits them in one transaction; a server
        store may commit them in several, and a write it could not finish is completed by
        writing the same records again (every write is an idempotent upsert)."""

    def prepare_import(self, nodes: Iterable[Node], edges: Iterable[Edge]) -> Any:
        """Step one of copying records as another store's ``run_records`` gives them (``kg push``
        / ``kg pull``): check and encode them, without writing. A copy prepares the next batch on
        a reader thread while ``import_prepared`` writes this one. The records are
        ``run_records(expand=False)``: compact activities come as they are, as ``write`` takes them."""
        return list(nodes), list(edges)

    def import_prepared(self, prepared: Any) -> None:
        """Step two: upsert what ``prepare_import`` returned (as ``write`` does)."""
        self.write(*prepared)

    # -- reading -------------------------------------------------------------
    @abc.abstractmethod
    def get_node(self, id: str) -> Node | None:
        """The node with this exact id, or None."""

    @abc.abstractmethod
    def find_nodes(self, *, kind: str | None = None, run: str | None = None, cls: str | None = None,
                   parent: str | None = None, name: str | None = None, id_prefix: str | None = None,
                   limit: int | None = None) -> Iterator[Node]:
        """Nodes matching every given filter, in id order, streamed."""

    @abc.abstractmethod
    def find_edges(self, *, src: str | None = None, dst: str | None = None, rel: str | None = None,
                   run: str | None = None) -> Iterator[Edge]:
        """Edges matching every given filter."""

    @abc.abstractmethod
    def runs(self) -> list[Node]:
        """Top-level runs and trials, in sequence order; props include ``seq``."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """``{"nodes": n, "edges": m}``."""

    def close(self) -> None:
        """Release connections. Safe to call twice."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- derived operations (stores may override with a native query) ---------
    def resolve_run(self, ref: str | int) -> Node:
        """A run by full id, unique id prefix or sequence number (digits without a leading zero)."""
        runs = self.runs()
        text = str(ref).strip()
        for r in runs:
            if r.id == text:
                return r
        if text.isdigit() and not text.startswith("0"):  # 12 is run 12; 0192 is an id prefix
            for r in runs:
                if r.props.get("seq") == int(text):
                    return r
        hits = [r for r in runs if r.id.startswith(text)] if text else []
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousReference(f"run prefix {text!r} matches {len(hits)} runs; give more characters")
        raise NotFound(f"no run {text!r} (see `kg list`)")

    def resolve_node(self, ref: str) -> Node:
        """A node by exact id (virtual Value ids included) or unique id prefix."""
        found = self.get_any(ref)
        if found is not None:
            return found
        hits = list(self.find_nodes(id_prefix=ref, limit=2)) if ref else []
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise AmbiguousReference(f"id prefix {ref!r} matches several nodes; give more characters")
        raise NotFound(f"no node {ref!r}")

    # -- batched reads (stores override with one query per call) -------------
    def get_nodes(self, ids: Iterable[str]) -> dict[str, Node]:
        """Stored nodes by id (absent ids are left out)."""
        out: dict[str, Node] = {}
        for i in ids:
            n = self.get_node(i)
            if n is not None:
                out[i] = n
        return out

    def edges_of(self, ids: Iterable[str], *, direction: str) -> list[Edge]:
        """Stored edges leaving (``up``: src in ids) or entering (``down``: dst in ids) the given nodes."""
        out: list[Edge] = []
        for i in ids:
            out += self.find_edges(src=i) if direction == "up" else self.find_edges(dst=i)
        return out

    def children_of(self, ids: Iterable[str]) -> list[Node]:
        """Nodes whose ``parent`` is one of ``ids``."""
        out: list[Node] = []
        for i in ids:
            out += self.find_nodes(parent=i)
        return out

    def dependents_of(self, ids: Iterable[str]) -> list[Node]:
        """Compact entities derived from one of ``ids`` that no stored edge names (a store that keeps
        them in segments overrides this; the others store those edges and ``edges_of`` finds them)."""
        return []

    # -- compact activities (see kg.model.prov) --------------------------------
    def get_any(self, id: str) -> Node | None:
        """A stored node, or a Value entity that a compact activity stands for."""
        found = self.get_node(id)
        if found is not None:
            return found
        owner = value_owner(id)
        if owner is None:
            return None
        act = self.get_node(owner[0])
        if act is None:
            return None
        return next((n for n in explode(act)[0] if n.id == id), None)

    def lineage(self, start: str, *, direction: str = "up", depth: int = 10,
                relations: Iterable[str] = LINEAGE_RELATIONS) -> Subgraph:
        """What ``start`` depends on (``up``) or what depends on it (``down``), up to ``depth`` hops.

        Follows stored edges and the relations of compact activities, one batch per hop."""
        rels = set(relations)
        first = self.get_any(start)
        if first is None:
            raise NotFound(f"no node {start!r}")
        seen: dict[str, int] = {start: 0}
        nodes: dict[str, Node] = {start: first}
        found: dict[tuple[str, str, str, str], Edge] = {}
        frontier = [start]
        up = direction == "up"
        for d in range(1, depth + 1):
            if not frontier:
                break
            step = self._step(frontier, nodes, up)
            nxt: list[str] = []
            for e in step:
                if e.rel not in rels:
                    continue
                near, far = (e.src, e.dst) if up else (e.dst, e.src)
                if near not in seen:
                    continue
                found[(e.src, e.rel, e.dst, str(e.props.get("role", "")))] = e
                if far not in seen:
                    seen[far] = d
                    nxt.append(far)
            missing = [i for i in nxt if i not in nodes]
            got = self.get_nodes(missing)
            for i in missing:
                n = got.get(i) or self.get_any(i)
                if n is not None:
                    nodes[i] = n
            frontier = nxt
        return Subgraph(list(nodes.values()), list(found.values()), seen)

    def _step(self, frontier: list[str], nodes: dict[str, Node], up: bool) -> list[Edge]:
        edges = self.edges_of(frontier, direction="up" if up else "down")
        for i in frontier:
            n = nodes.get(i)
            if n is None:
                continue
            if is_compact(n):
                vnodes, vedges = explode(n)
                for vn in vnodes:
                    nodes.setdefault(vn.id, vn)
                edges += vedges
            elif n.kind == "Value" and (owner := value_owner(i)) is not None:
                act = nodes.get(owner[0]) or self.get_node(owner[0])
                if act is not None:
                    nodes.setdefault(act.id, act)
                    edges += [e for e in explode(act)[1] if i in (e.src, e.dst)]
        if not up:  # children inform nothing upward, but they depend on their parent
            for child in self.children_of(frontier):
                nodes.setdefault(child.id, child)
                edges += [e for e in explode(child)[1] if e.dst in nodes and e.rel == "WAS_INFORMED_BY"]
            ends = set(frontier)
            for d in self.dependents_of(frontier):  # a variable computed from one of them
                nodes.setdefault(d.id, d)
                edges += [e for e in explode(d)[1] if e.dst in ends and e.rel == Relation.WAS_DERIVED_FROM.value]
        return edges

    def run_records(self, run_ids: Iterable[str] | None = None, *,
                    expand: bool = True) -> tuple[Iterator[Node], Iterator[Edge]]:
        """Every node and edge of the given runs (all records when None): with ``expand`` the full
        PROV, compact activities exploded (exports); without, compact activities as they are and
        nothing they stand for (copies into another store, which keeps them compact too: written
        out, their Values and relations would be stored a second time).

        A run's records are its nodes (``run`` prop), its edges, and the nodes those edges
        reach (shared agents, file contents, modules)."""
        ids = None if run_ids is None else list(run_ids)

        def base_nodes() -> Iterator[Node]:
            for rid in ids if ids is not None else (None,):
                if rid is not None and (run := self.get_node(rid)) is not None:
                    yield run
                yield from self.stored_nodes(rid)

        def base_edges() -> Iterator[Edge]:
            for rid in ids if ids is not None else (None,):
                yield from self.stored_edges(rid)

        @functools.cache
        def shared() -> list[Edge]:  # both iterators need them: looked up once
            return self.shared_facts(base_edges(), ids) if ids is not None else []

        def all_edges() -> Iterator[Edge]:
            # A stored edge can also be one an activity stands for (a dataflow USED): yield it
            # once, in the activity's place. A first pass collects just those (few) keys.
            refs = {k for n in base_nodes() if is_compact(n) for k in ref_keys(n)} if expand else set()
            for e in base_edges():
                if not refs or (e.src, e.rel, e.dst, str(e.props.get("role") or "")) not in refs:
                    yield e
            if expand:
                for n in base_nodes():
                    if is_compact(n):
                        yield from explode(n)[1]
            if ids is not None:
                yield from shared()

        def all_nodes() -> Iterator[Node]:
            seen: set[str] = set()
            ends: set[str] = set()  # endpoints of the run's relations, fetched when not the run's own
            for n in base_nodes():
                if n.id in seen:
                    continue
                seen.add(n.id)
                yield n
                if expand and is_compact(n):
                    values, rels = explode(n)
                    for v in values:
                        if v.id not in seen:
                            seen.add(v.id)
                            yield v
                    if ids is not None:
                        ends.update(end for e in rels for end in (e.src, e.dst))
            if ids is None:
                return
            ends.update(end for e in base_edges() for end in (e.src, e.dst))
            ends.update(e.dst for e in shared())
            if not expand:  # a Value of one of the run's compact activities travels inside it
                ends = {e for e in ends if (owner := value_owner(e)) is None or owner[0] not in seen}
            rest = sorted(ends - seen)
            got = self.get_nodes(rest)
            for end in rest:
                found = got.get(end) or (self.get_any(end) if value_owner(end) else None)
                if found is not None:
                    yield found

        return all_nodes(), all_edges()

    def stored_nodes(self, run: str | None) -> Iterator[Node]:
        """The nodes of ``run`` (every node when None) as this store holds them, without the
        records that only stand for part of a compact activity (a store may keep some)."""
        return self.find_nodes(run=run) if run is not None else self.find_nodes()

    def stored_edges(self, run: str | None) -> Iterator[Edge]:
        """The edges of ``run`` (every edge when None), as ``stored_nodes``: a relation that a compact
        activity stands for is left out, except a reference to another entity (a dataflow USED)."""
        return self.find_edges(run=run) if run is not None else self.find_edges()

    def shared_facts(self, edges: Iterable[Edge], runs: list[str]) -> list[Edge]:
        """The facts about shared nodes that the given runs' edges reach but another run wrote:
        a file version is a specialization of its file; provkg acted on behalf of the user. A
        version seen by two trials (a user's second run) has that edge once (written, and
        labelled, by the later one); the earlier run's records still need it, or its file
        lineage ends at the version (its agents lose their delegation)."""
        ends = {end for e in edges for end in (e.src, e.dst)}
        if not ends:
            return []
        facts = [e for e in self.find_edges(rel=Relation.SPECIALIZATION_OF.value)
                 if e.src in ends and e.props.get("run") not in runs]
        # Between two agents the run reached (a delegation to another user is not this run's);
        # there are few of them: one per user and provkg version.
        facts += [e for e in self.find_edges(rel=Relation.ACTED_ON_BEHALF_OF.value)
                  if e.src in ends and e.dst in ends and e.props.get("run") not in runs]
        return facts

    def describe(self) -> dict[str, Any]:
        """What `kg info` prints: the store's URI (never credentials) and its counts."""
        return {"store": self.uri, **self.counts()}
