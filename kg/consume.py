"""The persistence service: read records from a Redis Stream and write them into a store.

Delivery is at-least-once and the store makes it exactly-once: an entry is
acknowledged (XACK) only after the store committed its records, and stores upsert
by id, so an entry delivered twice (the consumer died between commit and XACK)
changes nothing. On start the consumer first re-reads its own pending entries
(XREADGROUP from id 0), then claims entries left pending by dead consumers
(XAUTOCLAIM after ``claim_idle`` seconds), then reads new ones (``>``).
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kg.exceptions import ConfigError, InputError, KGError, StoreUnavailable
from kg.model.records import Edge, Node
from kg.stores.base import Store

__all__ = ["Consumer", "ConsumerStats", "decode_entry", "DEFAULT_GROUP"]

log = logging.getLogger("kg.consume")

DEFAULT_GROUP = "kg-persist"


def decode_entry(data: bytes) -> tuple[list[Node], list[Edge]]:
    """The records of one stream entry (JSONL written by ``encode_records``). InputError if malformed."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    loads = orjson.loads
    for line in data.splitlines():
        if not line:
            continue
        try:
            o = loads(line)
            if o["type"] == "node":
                nodes.append(Node(o["id"], o["cls"], o["kind"], o.get("props") or {}))
            elif o["type"] == "edge":
                edges.append(Edge(o["rel"], o["src"], o["dst"], o.get("props") or {}))
            else:
                raise InputError(f"record type must be 'node' or 'edge', not {o['type']!r}")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"malformed record in stream entry: {exc!r:.200}") from None
    return nodes, edges


@dataclass
class ConsumerStats:
    """What a consumer did: entries and records committed, redeliveries, dead letters."""

    entries: int = 0
    records: int = 0
    recovered: int = 0     # entries re-read from the pending list (own or claimed)
    dead: int = 0          # malformed entries moved to the dead-letter stream
    batches: int = 0
    started: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Consumer:
    """One member of a consumer group that persists a stream into ``store``.

    ``consumer`` should be stable across restarts of the same service (its own pending
    entries are then re-read first); the default is ``<host>-kg-consume``."""

    def __init__(self, redis_url: str, store: Store, *, stream: str | None = None, group: str = DEFAULT_GROUP,
                 consumer: str | None = None, count: int = 50, block_ms: int = 1000,
                 claim_idle: float = 60.0, delete_acked: bool = True) -> None:
        from kg.stores.redis_stream import redis_client, split_stream_uri

        self.url, self.stream = split_stream_uri(redis_url, stream)
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self.store = store
        self.count = count
        self.block_ms = block_ms
        self.claim_idle_ms = int(claim_idle * 1000)
        self.delete_acked = delete_acked
        self.dead_stream = f"{self.stream}:dead"
        self.stats = ConsumerStats()
        self._r = redis_client(self.url)
        self._stop = False

    # -- setup ---------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the stream and the group if needed (the group starts at the stream's beginning)."""
        import redis

        try:
            self._r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise ConfigError(f"cannot create consumer group {self.group!r}: {exc}") from None
        except redis.ConnectionError as exc:
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from None

    def stop(self) -> None:
        """Ask ``run`` to return after the batch in progress (from a signal handler or another thread)."""
        self._stop = True

    # -- the loop ------------------------------------------------------------
    def run(self, *, idle_exit: float | None = None, max_entries: int | None = None,
            on_batch: Callable[[ConsumerStats], None] | None = None) -> ConsumerStats:
        """Consume until stopped, until ``idle_exit`` seconds pass with nothing to read, or ``max_entries``."""
        import redis

        self.ensure_group()
        self._recover_own()
        last_claim = 0.0
        idle_since = time.monotonic()
        while not self._stop:
            if max_entries is not None and self.stats.entries >= max_entries:
                break
            now = time.monotonic()
            if now - last_claim >= max(1.0, self.claim_idle_ms / 4000):
                last_claim = now
                self._claim_dead()
            try:
                resp = self._r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.count,
                                          block=self.block_ms)
            except redis.ConnectionError as exc:
                log.warning("Redis unreachable (%s); retrying", exc)
                time.sleep(1.0)
                continue
            entries = resp[0][1] if resp else []
            if entries:
                self._commit(entries)
                idle_since = time.monotonic()
                if on_batch is not None:
                    on_batch(self.stats)
            elif idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
        return self.stats

    def _recover_own(self) -> None:
        # Entries delivered to this consumer name before a crash and never acknowledged.
        while not self._stop:
            resp = self._r.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=self.count)
            entries = [(i, f) for i, f in (resp[0][1] if resp else []) if f]  # f is empty if the entry was deleted
            if not entries:
                self._ack_deleted(resp)
                return
            self.stats.recovered += len(entries)
            self._commit(entries)

    def _ack_deleted(self, resp: Any) -> None:
        gone = [i for i, f in (resp[0][1] if resp else []) if not f]
        if gone:
            self._r.xack(self.stream, self.group, *gone)

    def _claim_dead(self) -> None:
        # Entries another consumer read and then went silent on (killed, host lost).
        start = "0-0"
        while not self._stop:
            try:
                res = self._r.xautoclaim(self.stream, self.group, self.consumer, self.claim_idle_ms,
                                         start_id=start, count=self.count)
            except Exception as exc:  # XAUTOCLAIM needs Redis >= 6.2: fall back to own-pending recovery only
                log.debug("XAUTOCLAIM failed: %s", exc)
                return
            start, entries = res[0], [(i, f) for i, f in res[1] if f]
            if entries:
                self.stats.recovered += len(entries)
                self._commit(entries)
            if start in (b"0-0", "0-0"):
                return

    def _commit(self, entries: list[tuple[Any, dict[Any, Any]]]) -> None:
        from kg.stores.redis_stream import RECORDS_FIELD

        decoded: list[tuple[Any, list[Node], list[Edge]]] = []
        dead: list[tuple[Any, dict[Any, Any], str]] = []
        for eid, fields in entries:
            try:
                n, e = decode_entry(fields.get(RECORDS_FIELD) or fields.get(RECORDS_FIELD.decode()) or b"")
            except InputError as exc:
                dead.append((eid, fields, str(exc)))
                continue
            decoded.append((eid, n, e))
        try:
            self._write(decoded)
        except StoreUnavailable:
            return  # stopping while the store is down: nothing acknowledged, all redelivered later
        except KGError as exc:
            # The store refused the batch (not unreachable): find the entries it refuses, one by one.
            log.warning("store refused a batch (%s); writing its entries one at a time", exc)
            ok = []
            for d in decoded:
                try:
                    self._write([d])
                    ok.append(d)
                except StoreUnavailable:
                    return
                except KGError as one:
                    dead.append((d[0], dict(entries)[d[0]], str(one)))
            decoded = ok
        pipe = self._r.pipeline(transaction=False)
        for eid, fields, why in dead:
            log.warning("stream entry %s moved to %s: %s", eid, self.dead_stream, why)
            pipe.xadd(self.dead_stream, {**fields, b"origin": eid, b"error": why[:500]})
        done = [d[0] for d in decoded] + [d[0] for d in dead]
        if done:
            pipe.xack(self.stream, self.group, *done)  # only now: the store has committed
            if self.delete_acked:
                pipe.xdel(self.stream, *done)  # keeps Redis memory bounded
        pipe.execute()
        self.stats.entries += len(decoded)
        self.stats.records += sum(len(n) + len(e) for _, n, e in decoded)
        self.stats.dead += len(dead)
        self.stats.batches += 1

    def _write(self, decoded: list[tuple[Any, list[Node], list[Edge]]]) -> None:
        nodes = [x for _, n, _e in decoded for x in n]
        edges = [x for _, _n, e in decoded for x in e]
        if not nodes and not edges:
            return
        while True:
            try:
                self.store.write(nodes, edges)  # one transaction: all of it or nothing
                return
            except StoreUnavailable as exc:
                # Nothing is acknowledged, so nothing is lost: wait for the store to come back.
                log.warning("store unavailable (%s); retrying in 2s", exc)
                time.sleep(2.0)
                if self._stop:
                    raise

    def close(self) -> None:
        try:
            self._r.close()
        except Exception:
            pass


def default_consumer_name() -> str:
    """``<host>-kg-consume``, or ``$KG_CONSUMER`` when set (several consumers on one host need distinct names)."""
    return os.environ.get("KG_CONSUMER") or f"{socket.gethostname()}-kg-consume"

