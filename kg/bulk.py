"""``kg push --bulk``: the embedded store as CSV for ``neo4j-admin database import full``.

The offline importer writes a new database at many times the rate of online ``MERGE``s, but
only into an empty one, with the server stopped. The files hold exactly what an online push
writes (kg.stores._neo4j_rows encodes both): one node file per (class, kind) with labels
``KG:<class>:<kind>``, one relationship file per type, placeholder nodes (label ``KG`` only)
for edge endpoints that were never written, runs numbered 1… (``seq``) and the run counter
(``KGMeta``). The store adds its constraints and indexes when it next connects."""
from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.config import settings
from kg.exceptions import InputError
from kg.model.prov import owners
from kg.stores._neo4j_rows import _prepare, _to_json, linked_values
from kg.stores.base import Store

__all__ = ["BulkFiles", "write_csv", "ARRAY_DELIMITER"]

ARRAY_DELIMITER = "\x1f"  # unit separator: never inside a captured string
_TYPES = {str: "string", int: "long", float: "double", bool: "boolean"}


@dataclass
class BulkFiles:
    """The CSV files written and the importer arguments that load them."""

    dir: Path
    nodes: list[tuple[str, Path]] = field(default_factory=list)          # (labels, file)
    relationships: list[tuple[str, Path]] = field(default_factory=list)  # (type, file)
    node_count: int = 0
    edge_count: int = 0
    log: str = ""  # the importer's output, when kg ran it

    @property
    def records(self) -> int:
        return self.node_count + self.edge_count

    def import_args(self, root: str | None = None, database: str = "neo4j") -> list[str]:
        """Arguments after ``neo4j-admin``; ``root`` is where the importer sees ``dir``
        (``/import`` inside the docker-compose service)."""
        base = Path(root) if root else self.dir

        def at(p: Path) -> str:
            return str(base / p.name)

        # the database first: --nodes takes several files, and would take a name after it as one
        args = ["database", "import", "full", database, f"--array-delimiter={ARRAY_DELIMITER}",
                "--multiline-fields=true", "--overwrite-destination=true",
                f"--report-file={base / 'import.report'}"]  # not in the importer's working directory
        args += [f"--nodes={labels}={at(p)}" for labels, p in self.nodes]
        return args + [f"--relationships={rel}={at(p)}" for rel, p in self.relationships]

    def command(self, admin: str = "neo4j-admin", root: str | None = None, database: str = "neo4j") -> str:
        args = self.import_args(root, database)
        return " ".join([admin, *(shlex.quote(a) if ARRAY_DELIMITER not in a else
                                  a.replace(ARRAY_DELIMITER, "$'\\x1f'") for a in args)])


def _column_types(rows: Iterable[dict[str, Any]]) -> dict[str, str | None]:
    """Each prop's CSV type over all rows; None where the rows disagree (written as JSON)."""
    types: dict[str, str | None] = {}
    for r in rows:
        for k, v in r["p"].items():
            if v is None:
                continue
            t = type(v)
            name = _TYPES[type(v[0])] + "[]" if t is list else _TYPES.get(t)
            if k not in types:
                types[k] = name
            elif types[k] != name:
                types[k] = None
    return types


def _cell(v: Any, typ: str | None) -> Any:
    if v is None:
        return None
    if typ is None:
        return _to_json(v)
    if typ.endswith("[]"):
        return ARRAY_DELIMITER.join(("true" if x else "false") if type(x) is bool else str(x) for x in v)
    if typ == "boolean":
        return "true" if v else "false"
    return v


def _field(v: Any) -> str:
    # An absent prop must be an empty, unquoted field (the importer then sets nothing), while an
    # empty string is "" (the csv module cannot tell them apart before Python 3.12's QUOTE_NOTNULL).
    if v is None:
        return ""
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"'
    return repr(v)


def _writer(path: Path) -> Any:
    fh = open(path, "w", encoding="utf-8", newline="")

    def row(cells: list[Any]) -> None:
        fh.write(",".join(map(_field, cells)) + "\n")

    return fh, row


def _write(path: Path, fixed: list[str], rows: list[dict[str, Any]], fixed_of: Any) -> None:
    types = _column_types(rows)
    keys = sorted(types)
    header = fixed + [f"{k}:{types[k] or 'string'}" for k in keys] + ["_json:string[]"]
    fh, write = _writer(path)
    with fh:
        write(header)
        for r in rows:
            p = r["p"]
            own = r.get("j") or ()  # keys _encode already made JSON
            js = list(own) + [k for k in keys if types[k] is None and p.get(k) is not None and k not in own]
            write(fixed_of(r) + [p.get(k) if k in own else _cell(p.get(k), types[k]) for k in keys]
                  + [ARRAY_DELIMITER.join(dict.fromkeys(js)) if js else None])


def write_csv(source: Store, directory: Path, runs: Iterable[str] | None = None) -> BulkFiles:
    """Write the records of ``runs`` (all when None) of ``source`` as importer CSV into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise InputError(f"{directory} is not empty; --bulk writes its CSV files into an empty directory")
    ids = None if runs is None else [source.resolve_run(r).id for r in runs]
    prepared = _prepare(*source.run_records(ids, expand=False), values=settings.neo4j_values)
    linked, links, _ = linked_values(prepared.unresolved, source.get_nodes(owners(prepared.unresolved)))
    if linked:  # Values of other runs' activities that these runs use
        more = _prepare(linked, links, values="all")
        for key, group in more.nodes.items():
            prepared.nodes.setdefault(key, []).extend(group)
        for rel, group in more.edges.items():
            prepared.edges.setdefault(rel, []).extend(group)
    node_groups, top, edge_groups = prepared.nodes, prepared.top, prepared.edges
    out = BulkFiles(directory)
    tops = set(top)
    seq = {rid: i + 1 for i, rid in enumerate(r.id for r in source.runs() if r.id in tops)}
    known: set[str] = set()
    for k, ((cls, kind), rows) in enumerate(sorted(node_groups.items())):
        for r in rows:
            known.add(r["id"])
            if r["id"] in seq:
                r["p"]["seq"] = seq[r["id"]]
        path = directory / f"nodes-{k:03d}-{kind}.csv"
        _write(path, ["id:ID(kg)", "kind"], rows, lambda r, kind=kind: [r["id"], kind])
        out.nodes.append((":".join(dict.fromkeys(["KG", cls, kind])), path))
        out.node_count += len(rows)
    missing = sorted({e for rows in edge_groups.values() for r in rows for e in (r["s"], r["d"])} - known)
    if missing:  # placeholders, as an online push leaves them
        path = directory / "nodes-placeholders.csv"
        fh, write = _writer(path)
        with fh:
            write(["id:ID(kg)"])
            for m in missing:
                write([m])
        out.nodes.append(("KG", path))
    if seq:
        path = directory / "nodes-meta.csv"
        fh, write = _writer(path)
        with fh:
            write([":ID(meta)", "key", "value:long"])
            write(["seq", "seq", len(seq)])
        out.nodes.append(("KGMeta", path))
    for k, (rel, rows) in enumerate(sorted(edge_groups.items())):
        path = directory / f"rels-{k:03d}-{rel}.csv"
        _write(path, [":START_ID(kg)", ":END_ID(kg)"], rows, lambda r: [r["s"], r["d"]])
        out.relationships.append((rel, path))
        out.edge_count += len(rows)
    return out


def bulk_import(source: Store, target: Any, directory: Path, runs: Iterable[str] | None = None,
                import_with: str | None = None) -> tuple[BulkFiles, float | None]:
    """Write the CSV files and, with ``import_with`` (a command prefix that runs neo4j-admin
    with the arguments appended, such as ``scripts/neo4j import --``), import them into the
    empty database of ``target`` (closed first: the importer needs the server stopped).
    Returns the files and the import's seconds (None when it was not run)."""
    import subprocess
    import time

    from kg.exceptions import StoreError

    held = target.cypher("MATCH (n) RETURN count(n) AS c")[0]["c"]
    if held:
        raise InputError(f"Neo4j at {target.uri} holds {held} nodes; --bulk loads only into an empty "
                         "database (use kg push without --bulk)")
    files = write_csv(source, directory, runs)
    if not import_with:
        return files, None
    target.close()
    t0 = time.perf_counter()
    done = subprocess.run([*shlex.split(import_with), *files.import_args()], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    files.log = done.stdout + done.stderr
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise StoreError(f"the import failed ({import_with}): " + " | ".join(tail))
    return files, seconds
