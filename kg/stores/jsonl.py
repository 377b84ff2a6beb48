"""The offline store: one JSON record per line, appended; `kg load` imports it into a real store."""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from kg.exceptions import InputError, StoreError
from kg.model.records import Edge, Node, check_edge, check_node
from kg.stores.base import Store

__all__ = ["JsonlStore", "read_records", "parse_records", "encode_records"]


def encode_records(nodes: Iterable[Node], edges: Iterable[Edge]) -> bytes:
    """The JSONL text of these records: ``{"type": "node", ...}`` / ``{"type": "edge", ...}`` lines."""
    out = bytearray()
    dumps = orjson.dumps
    opt = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
    for n in nodes:
        out += dumps({"type": "node", "id": n.id, "cls": n.cls, "kind": n.kind, "props": n.props},
                     option=opt, default=repr)
    for e in edges:
        out += dumps({"type": "edge", "rel": e.rel, "src": e.src, "dst": e.dst, "props": e.props},
                     option=opt, default=repr)
    return bytes(out)


def _parse(line: bytes, lineno: int, source: str) -> Node | Edge:
    where = f"{source}:{lineno}"
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    kind = obj.get("type")
    try:
        if kind == "node":
            n = Node(obj["id"], obj["cls"], obj["kind"], obj.get("props") or {})
            check_node(n)
            return n
        elif kind == "edge":
            e = Edge(obj["rel"], obj["src"], obj["dst"], obj.get("props") or {})
            check_edge(e)
            return e
        else:
            raise InputError(f"record type must be 'node' or 'edge', not {kind!r}")
    except KeyError as exc:
        raise InputError(f"{where}: missing field {exc}") from None
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def read_records(path: str | os.PathLike[str], *,
                 bad: list[str] | None = None) -> tuple[list[Node], list[Edge]]:
    """Parse a JSONL file completely; raises InputError naming the first bad line. With ``bad``
    (a list), a bad line is appended to it (its one-line reason) and skipped instead."""
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        return parse_records(fh, str(path), bad=bad)


def parse_records(lines: Iterable[bytes], source: str, *,
                  bad: list[str] | None = None) -> tuple[list[Node], list[Edge]]:
    """The records of JSONL ``lines`` (a file, or ``data.splitlines()``), checked as `kg load`
    checks them; errors name ``source`` and the line."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = _parse(line, lineno, source)
        except InputError as exc:
            if bad is None:
                raise
            bad.append(str(exc))
            continue
        (nodes if isinstance(rec, Node) else edges).append(rec)  # type: ignore[arg-type]
    return nodes, edges


class JsonlStore(Store):
    """Appends records to a file; safe with several writer processes (each batch is one locked append).

    Reading loads the file into an in-memory SQLite graph, so every Store query works on it too."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.uri = f"jsonl://{self.path}"
        self._mem: Any = None

    def write(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        # Checked as `kg load` checks them, before anything is appended: a bad record is refused
        # here (InputError, nothing written) rather than found later, poisoning the file.
        nodes, edges = list(nodes), list(edges)
        for n in nodes:
            check_node(n)
        for e in edges:
            check_edge(e)
        data = encode_records(nodes, edges)
        if not data:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(f"cannot append to {self.path}: {exc.strerror}") from None
        self._mem = None

    def _graph(self) -> Store:
        if self._mem is None:
            from kg.stores.sqlite import SqliteStore

            mem = SqliteStore(":memory:")
            if self.path.exists():
                mem.write(*read_records(self.path))
            self._mem = mem
        return self._mem  # type: ignore[no-any-return]

    def get_node(self, id: str) -> Node | None:
        return self._graph().get_node(id)

    def find_nodes(self, **filters: Any) -> Iterator[Node]:  # type: ignore[override]
        return self._graph().find_nodes(**filters)

    def find_edges(self, **filters: Any) -> Iterator[Edge]:  # type: ignore[override]
        return self._graph().find_edges(**filters)

    def runs(self) -> list[Node]:
        return self._graph().runs()

    def counts(self) -> dict[str, int]:
        return self._graph().counts()

    def close(self) -> None:
        if self._mem is not None:
            self._mem.close()
            self._mem = None
