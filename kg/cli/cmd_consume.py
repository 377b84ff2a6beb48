"""kg consume: the persistence service that moves records from a Redis Stream into the store."""
from __future__ import annotations

import os
import signal
import time
from typing import Any

import click

from kg.cli._options import Ctx, pass_ctx
from kg.config import kg_home
from kg.exceptions import ConfigError

__all__ = ["register", "resolve_source", "resolve_target"]

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _is_redis(uri: str | None) -> bool:
    return bool(uri) and str(uri).startswith(("redis://", "rediss://", "unix://"))


def resolve_source(explicit: str | None, store_uri: str | None) -> str:
    """The stream to read: ``--from``, else ``$KG_REDIS``, else a redis:// ``--store``/``$KG_STORE``, else local."""
    for cand in (explicit, os.environ.get("KG_REDIS"), store_uri):
        if cand and (cand is explicit or _is_redis(cand)):
            if not _is_redis(cand):
                raise ConfigError(f"--from must be a redis://, rediss:// or unix:// URL, not {cand!r}")
            return cand
    return DEFAULT_REDIS


def resolve_target(into: str | None, store_uri: str | None) -> str:
    """The store to fill: ``--into``, else ``--store``/``$KG_STORE`` unless that is the stream itself."""
    target = into or (store_uri if not _is_redis(store_uri) else None) or str(kg_home() / "kg.db")
    if _is_redis(target):
        raise ConfigError("kg consume needs a real store to write to (a .db path, jsonl:// or bolt://): use --into")
    return target


def register(cli: click.Group) -> None:
    @cli.command("consume")
    @click.option("--from", "source", metavar="URL", default=None,
                  help="Redis URL to read (default: $KG_REDIS, a redis:// $KG_STORE, or redis://127.0.0.1:6379/0).")
    @click.option("--into", metavar="PATH|URI", default=None,
                  help="Store to write (default: --store / $KG_STORE when that is not redis://, else $KG_HOME/kg.db).")
    @click.option("--stream", default=None, help="Stream name (default: the URL's ?stream=, else kg:records).")
    @click.option("--group", default="kg-persist", show_default=True, help="Consumer group.")
    @click.option("--consumer", "consumer_name", default=None,
                  help="This consumer's name; keep it stable across restarts (default: $KG_CONSUMER or HOST-kg-consume).")
    @click.option("--count", default=50, show_default=True, help="Stream entries per read (each holds up to 1000 records).")
    @click.option("--claim-idle", default=60.0, show_default=True,
                  help="Seconds after which entries pending on another (dead) consumer are claimed.")
    @click.option("--idle-exit", type=float, default=None,
                  help="Exit after this many seconds with nothing to read (default: run until SIGTERM/Ctrl-C).")
    @click.option("--keep-entries", is_flag=True, help="Do not delete acknowledged entries from the stream.")
    @click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
    @pass_ctx
    def consume_cmd(ctx: Ctx, source: str | None, into: str | None, stream: str | None, group: str,
                    consumer_name: str | None, count: int, claim_idle: float, idle_exit: float | None,
                    keep_entries: bool, quiet: bool) -> None:
        """Persist records that producers publish to a Redis Stream.

        Producers set KG_STORE=redis://HOST:PORT/DB; this service reads the stream with a
        consumer group, writes batches to the store and acknowledges them only after the
        store committed, so a consumer killed and restarted loses and duplicates nothing.

        \b
        Example:
          KG_STORE=redis://127.0.0.1:6379/0 python train.py &
          kg consume --from redis://127.0.0.1:6379/0 --into project.db --idle-exit 10
        """
        from kg.consume import Consumer
        from kg.stores import open_store

        url = resolve_source(source, ctx.store_uri)
        store = open_store(resolve_target(into, ctx.store_uri))
        consumer = Consumer(url, store, stream=stream, group=group, consumer=consumer_name, count=count,
                            claim_idle=claim_idle, delete_acked=not keep_entries)

        def _stop(signum: int, frame: Any) -> None:
            consumer.stop()

        old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
        last = [time.monotonic()]

        def progress(stats: Any) -> None:
            if not quiet and time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                click.echo(f"kg consume: {stats.records} records from {stats.entries} entries", err=True)

        try:
            stats = consumer.run(idle_exit=idle_exit, on_batch=progress)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            consumer.close()
            store.close()
        click.echo(f"consumed {stats.records} records from {stats.entries} entries of {consumer.stream} "
                   f"({stats.recovered} redelivered, {stats.dead} dead-lettered) into {store.uri or 'the store'}")
