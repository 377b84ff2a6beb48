"""The plain results of the Python API: Record, RecordList, Rows and Lineage, with topandas_module()/to_networkx()."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from kg.exceptions import ConfigError
from kg.model.records import Edge, Node

if TYPE_CHECKING:  # optional dependencies: imported only when a table or a graph is asked for
    import networkx
    import pandas

__all__ = ["Record", "RecordList", "Rows", "Lineage", "plain_values", "with_depth", "pandas_module", "prov_graph"]

# Columns every record table starts with; the remaining props follow in first-seen order.
BASE_COLUMNS = ("id", "kind", "name", "status", "started", "ended", "duration")
_TIME_COLUMNS = ("started", "ended")
_COMPACT = ("used", "generated")


def pandas_module() -> Any:
    """pandas, or a ConfigError naming the extra that installs it (an optional dependency)."""
    try:
        import pandas
    except ImportError:
        raise ConfigError("topandas_module() needs pandas: pip install 'provkg[pandas]'") from None
    return pandas


def plain_values(values: Any) -> dict[str, Any]:
    """``used``/``generated`` props as plain values: a reference to another entity
    (``{"$from": id, "summary": v}``) becomes its summary ``v``."""
    if not isinstance(values, Mapping):
        return {}
    return {k: (v.get("summary") if isinstance(v, Mapping) and "$from" in v else v) for k, v in values.items()}


@dataclass(frozen=True, eq=True)
class Record:
    """One node of the graph (a run, task, activation, value, file version, agent ...).

    ``props`` holds everything the store keeps; the common ones are also attributes::

        >>> r = Record.from_node(Node("t-1", "Activity", "Task", {"name": "double", "used": {"x": 21}}))
        >>> r.name, r.used
        ('double', {'x': 21})
    """

    id: str
    kind: str
    cls: str
    props: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: tasks: depth in the run's tree (0 = top level); lineage: hops from the start node
    depth: int | None = None

    def __hash__(self) -> int:  # props is a dict: identity is enough to put records in a set
        return hash((self.id, self.kind))

    @classmethod
    def from_node(cls, n: Node, depth: int | None = None) -> Record:
        return cls(n.id, n.kind, n.cls, n.props, depth)

    @property
    def node(self) -> Node:
        """The store's own record (for the Store API and exporters)."""
        return Node(self.id, self.cls, self.kind, dict(self.props))

    @property
    def name(self) -> str | None:
        return self.props.get("name")

    @property
    def status(self) -> str | None:
        return self.props.get("status")

    @property
    def run(self) -> str | None:
        """Id of the run or trial the record belongs to."""
        return self.props.get("run")

    @property
    def parent(self) -> str | None:
        """Id of the enclosing activity (a task's caller, a run for its top-level tasks)."""
        return self.props.get("parent")

    @property
    def seq(self) -> int | None:
        """Runs and trials: the number `kg list` shows."""
        return self.props.get("seq")

    @property
    def started(self) -> float | None:
        return self.props.get("started")

    @property
    def ended(self) -> float | None:
        return self.props.get("ended")

    @property
    def duration(self) -> float | None:
        """Seconds; from ``started``/``ended`` when the store has no ``duration``."""
        d = self.props.get("duration")
        if d is None and self.started is not None and self.ended is not None:
            return float(self.ended) - float(self.started)
        return d

    @property
    def used(self) -> dict[str, Any]:
        """Inputs by name, as plain values (a compact activity's ``used``)."""
        return plain_values(self.props.get("used"))

    @property
    def generated(self) -> dict[str, Any]:
        """Outputs by name, as plain values."""
        return plain_values(self.props.get("generated"))

    @property
    def sources(self) -> dict[str, str]:
        """Inputs that are another entity (an earlier task's output): name -> that entity's id."""
        used = self.props.get("used") or {}
        return {k: str(v["$from"]) for k, v in used.items() if isinstance(v, Mapping) and "$from" in v}

    def row(self) -> dict[str, Any]:
        """A flat dict: the base columns, ``depth`` when set, then the other props."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "name": self.name, "status": self.status,
                               "started": self.started, "ended": self.ended, "duration": self.duration}
        if self.depth is not None:
            out["depth"] = self.depth
        for k, v in self.props.items():
            if k not in out:
                out[k] = plain_values(v) if k in _COMPACT else v
        return out

    def matches(self, *, kind: str | None = None, name: str | None = None, status: str | None = None,
                **props: Any) -> bool:
        """True when every given filter holds: ``kind`` exactly, ``name`` as a shell pattern
        (``"train*"``), ``status`` ignoring case, any other prop by equality."""
        if kind is not None and self.kind != kind:
            return False
        if name is not None and not fnmatchcase(str(self.name or ""), name):
            return False
        if status is not None and str(self.status or "").lower() != status.lower():
            return False
        return all(self.props.get(k) == v for k, v in props.items())


class RecordList(list[Record]):
    """A list of records, in the order the query gave them, that can become a table.

        >>> runs = RecordList([Record("r1", "Run", "Activity", {"name": "a", "status": "finished"})])
        >>> runs.ids()
        ['r1']
    """

    def ids(self) -> list[str]:
        return [r.id for r in self]

    def filter(self, **filters: Any) -> RecordList:
        """The records for which ``Record.matches(**filters)`` holds."""
        return RecordList(r for r in self if r.matches(**filters))

    def by_id(self) -> dict[str, Record]:
        return {r.id: r for r in self}

    def to_pandas(self, columns: Sequence[str] | None = None) -> pandas.DataFrame:
        """One row per record (see ``Record.row``); ``started``/``ended`` as UTC timestamps.

        Needs pandas (``pip install 'provkg[pandas]'``)."""
        pd = pandas_module()
        rows = [r.row() for r in self]
        if columns is None:
            cols: dict[str, None] = dict.fromkeys(BASE_COLUMNS)
            for row in rows:
                cols.update(dict.fromkeys(row))
            columns = list(cols)
        df = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=list(columns))
        for c in _TIME_COLUMNS:
            if c in df.columns:
                df[c] = pd.to_datetime(df[c], unit="s", utc=True)
        return df


class Rows(list[dict[str, Any]]):
    """Query results: one dict per row, with the query's ``columns`` in order.

        >>> rows = Rows([{"n": 1}], columns=["n"])
        >>> rows[0]["n"], rows.columns
        (1, ['n'])
    """

    def __init__(self, rows: Iterable[dict[str, Any]] = (), columns: Sequence[str] | None = None) -> None:
        super().__init__(rows)
        self.columns = list(columns) if columns is not None else (list(self[0]) if self else [])

    def to_pandas(self) -> pandas.DataFrame:
        """One DataFrame row per result row (records in cells stay Records)."""
        return pandas_module().DataFrame(list(self), columns=self.columns)


@dataclass
class Lineage:
    """What a node came from (``direction="up"``) or what came from it (``"down"``).

    ``nodes`` carry their distance from ``start`` in ``depth``; ``edges`` are PROV relations
    (``Edge(rel, src, dst, props)``, ``src`` the subject: ``USED`` goes activity -> entity)."""

    start: Record
    direction: str
    nodes: RecordList
    edges: list[Edge]

    def __contains__(self, node: object) -> bool:
        """``id in lineage`` (a Record works too)."""
        node_id = node.id if isinstance(node, Record) else node
        return any(n.id == node_id for n in self.nodes)

    def rows(self) -> list[dict[str, Any]]:
        """What `kg lineage` prints: depth, the relation it was reached by, kind, name, id, value."""
        up = self.direction == "up"
        via: dict[str, str] = {}
        for e in self.edges:
            via.setdefault(e.dst if up else e.src, e.rel)
        ordered = sorted(self.nodes, key=lambda n: (n.depth or 0, n.id))
        return [{"depth": n.depth, "via": via.get(n.id, ""), "kind": n.kind, "name": n.name, "id": n.id,
                 "value": n.props.get("value")} for n in ordered]

    def to_pandas(self) -> pandas.DataFrame:
        """The rows of ``rows()`` as a DataFrame."""
        return pandas_module().DataFrame(self.rows(), columns=["depth", "via", "kind", "name", "id", "value"])

    def to_networkx(self) -> networkx.MultiDiGraph:
        """A ``networkx.MultiDiGraph``: nodes by id with ``kind``, ``cls``, ``depth`` and their props as
        attributes; one edge per relation, keyed by its type, with ``rel`` and its props."""
        return prov_graph(self.nodes, self.edges, lambda n: {"depth": n.depth}, start=self.start.id,
                          direction=self.direction)


def prov_graph(nodes: Iterable[Any], edges: Iterable[Any], extra: Callable[[Any], dict[str, Any]] | None = None,
               **graph: Any) -> networkx.MultiDiGraph:
    """Nodes (or Records) and edges as a ``networkx.MultiDiGraph``: each node by id with its props,
    ``kind`` and ``cls`` (and ``extra(node)``); one edge per relation, keyed by its type, with ``rel``
    and its props; ``graph``: the graph's own attributes."""
    import networkx as nx

    g = nx.MultiDiGraph(**graph)
    for n in nodes:
        g.add_node(n.id, **{**n.props, "kind": n.kind, "cls": n.cls, **(extra(n) if extra else {})})
    for e in edges:
        g.add_edge(e.src, e.dst, key=e.rel, **{**e.props, "rel": e.rel})
    return g


def with_depth(records: Iterable[tuple[int, Node]]) -> RecordList:
    """Records from (depth, node) pairs."""
    return RecordList(Record.from_node(n, d) for d, n in records)
