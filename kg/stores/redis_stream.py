"""Distributed capture: a write-only store that publishes records to a Redis Stream.

Producers in any number of processes and hosts point ``KG_STORE`` at
``redis://HOST:PORT/DB?stream=NAME``; the sink's flush thread then calls
``RedisStreamStore.write`` with a batch of expanded records, which becomes a few
``XADD`` entries (each one holds up to ``chunk`` records encoded as the JSONL of
``kg.stores.jsonl.encode_records``) sent in one pipeline round trip. ``kg consume``
reads the stream and writes into the real store (see ``kg.consume``).

An unreachable Redis raises ``StoreUnavailable``, so the sink spools the batch to
``$KG_HOME/spool`` for ``kg push`` instead of losing it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kg.exceptions import ConfigError, StoreError, StoreUnavailable
from kg.model.records import Edge, Node
from kg.stores.base import Store
from kg.stores.jsonl import encode_records

__all__ = ["RedisStreamStore", "open_redis_store", "is_redis_uri", "split_stream_uri", "redis_client",
           "DEFAULT_STREAM", "RECORDS_FIELD"]

DEFAULT_STREAM = "kg:records"
RECORDS_FIELD = b"r"      # the entry field holding JSONL records
CHUNK = 1000              # records per stream entry: big enough to amortise Redis, small enough to redeliver
_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_uri(uri: str) -> bool:
    """True for the URIs this store handles (``redis://``, ``rediss://``, ``unix://``)."""
    return uri.startswith(_SCHEMES)


def split_stream_uri(uri: str, stream: str | None = None) -> tuple[str, str]:
    """(redis-py URL without our ``stream=`` parameter, stream name)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    name = stream
    kept = []
    for k, v in query:
        if k == "stream":
            name = name or v
        else:
            kept.append((k, v))
    return urlunsplit(parts._replace(query=urlencode(kept))), name or DEFAULT_STREAM


def redis_client(url: str) -> Any:
    """A redis-py client for ``url`` (a ConfigError names what is missing or wrong)."""
    try:
        import redis
    except ImportError:
        raise ConfigError("a redis:// store needs redis-py: pip install 'provkg[redis]'") from None
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30)
    except ValueError as exc:
        raise ConfigError(f"bad Redis URL {url!r}: {exc}") from None


class RedisStreamStore(Store):
    """Publishes every ``write`` to a Redis Stream; reading is done on the store ``kg consume`` fills."""

    def __init__(self, uri: str, *, stream: str | None = None, chunk: int = CHUNK,
                 maxlen: int | None = None) -> None:
        self.url, self.stream = split_stream_uri(uri, stream)
        self.uri = uri
        self.chunk = chunk
        self.maxlen = maxlen  # None: never trim (trimming before consumption would lose records)
        self._r = redis_client(self.url)
        self.published = 0

    def write(self, nodes: Iterable[Node] = (), edges: Iterable[Edge] = ()) -> None:
        import redis

        records: list[Any] = [*nodes, *edges]
        if not records:
            return
        stream, chunk, field = self.stream, self.chunk, RECORDS_FIELD
        try:
            pipe = self._r.pipeline(transaction=False)
            for i in range(0, len(records), chunk):
                part = records[i:i + chunk]
                data = encode_records([r for r in part if type(r) is Node], [r for r in part if type(r) is Edge])
                pipe.xadd(stream, {field: data}, maxlen=self.maxlen, approximate=True)
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Some entries of this batch may have been added: redelivering them is harmless,
            # since the consumer's store upserts by id.
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from None
        except redis.RedisError as exc:
            raise StoreError(f"Redis refused the records on stream {self.stream!r}: {exc}") from None
        self.published += len(records)

    def _write_only(self) -> StoreError:
        return StoreError(f"{self.uri} is a write-only stream: read from the store `kg consume` writes to")

    def get_node(self, id: str) -> Node | None:
        raise self._write_only()

    def find_nodes(self, **filters: Any) -> Iterator[Node]:  # type: ignore[override]
        raise self._write_only()

    def find_edges(self, **filters: Any) -> Iterator[Edge]:  # type: ignore[override]
        raise self._write_only()

    def runs(self) -> list[Node]:
        raise self._write_only()

    def counts(self) -> dict[str, int]:
        raise self._write_only()

    def close(self) -> None:
        try:
            self._r.close()
        except Exception:  # closing a dead connection is not an error worth raising
            pass


def open_redis_store(uri: str) -> RedisStreamStore:
    """What ``kg.stores.open_store`` returns for a ``redis://`` URI."""
    return RedisStreamStore(uri)
