"""Stores behind one contract; ``open_store(uri)`` picks one by URI."""
from __future__ import annotations

from kg.config import store_uri
from kg.exceptions import ConfigError
from kg.stores.base import Store, Subgraph

__all__ = ["Store", "Subgraph", "open_store", "is_server_uri"]

_SERVER_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")


def is_server_uri(uri: str) -> bool:
    """True for a Neo4j URI (the stores that can be unreachable and need a spool)."""
    return uri.startswith(_SERVER_SCHEMES)


def open_store(uri: str | None = None, *, create: bool = True) -> Store:
    """Open the store named by ``uri`` (see ``kg.config.store_uri`` for the default).

    ``path.db`` or ``sqlite:///path``: embedded SQLite; ``path.jsonl`` or ``jsonl://path``:
    offline file; ``bolt://`` / ``neo4j://``: a Neo4j server; ``redis://``: a Redis stream
    (write-only, for distributed capture; ``kg consume`` stores it)."""
    uri = store_uri(uri)
    if is_server_uri(uri):
        try:
            from kg.stores.neo4j import Neo4jStore
        except ImportError as exc:  # pragma: no cover - neo4j is a core dependency
            raise ConfigError(f"the Neo4j store needs the neo4j driver: {exc}") from None
        return Neo4jStore(uri)
    if uri.startswith("jsonl://") or uri.endswith(".jsonl"):
        from kg.stores.jsonl import JsonlStore

        return JsonlStore(uri.removeprefix("jsonl://"))
    if uri.startswith("sqlite:///"):
        uri = uri[len("sqlite:///"):]  # SQLAlchemy's spelling: sqlite:///rel.db, sqlite:////abs.db
    if uri.startswith(("redis://", "rediss://", "unix://")):
        # producers only: records go to a Redis stream that `kg consume` stores
        from kg.stores.redis_stream import open_redis_store

        return open_redis_store(uri)
    if "://" in uri:
        raise ConfigError(f"unknown store URI scheme in {uri!r} (use a .db path, jsonl://, bolt://, neo4j:// or redis://)")
    from kg.stores.sqlite import SqliteStore

    return SqliteStore(uri, create=create)
