"""Shared CLI pieces: the store handle, output formats, progress bars, time formatting."""
from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

from kg.humanize import fmt_duration, fmt_time  # noqa: F401  (the commands import them from here)
from kg.stores import Store, open_store

__all__ = ["Ctx", "pass_ctx", "output_option", "emit_rows", "fmt_time", "fmt_duration", "progress"]

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    """Per-invocation state: the store is opened on first use and closed at the end."""

    def __init__(self, store_uri: str | None, debug: bool = False) -> None:
        self.store_uri = store_uri
        self.debug = debug
        self._store: Store | None = None
        self._caught_up = False

    @property
    def store(self) -> Store:
        """The store, for reading: one that does not exist is an error (a typo must not make an empty one).
        A Neo4j store first receives what this machine captured for it and has not sent yet, so a
        command reads its own writes (kg.outbox.catch_up)."""
        store = self.peek
        if not self._caught_up:
            from kg.outbox import catch_up

            catch_up(store)
            self._caught_up = True
        return store

    @property
    def peek(self) -> Store:
        """The store as it is now, for reading, without sending pending captures (`kg info` shows them)."""
        if self._store is None:
            self._store = open_store(self.store_uri, create=False)
        return self._store

    @property
    def writable(self) -> Store:
        """The store, for commands that write into it (`kg run`, `kg load`, `kg pull`): created when missing."""
        if self._store is None:
            self._store = open_store(self.store_uri)
        return self._store

    def open(self, uri: str | None) -> Store:
        """Another store (push/pull targets)."""
        return open_store(uri)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_ctx = click.make_pass_decorator(Ctx)


CELL = 60  # characters of a text cell in a table (without --wide)


def _set_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["kg.wide"] = True


def output_option(func: F) -> F:
    """``--format table|json|csv`` and ``--wide`` for commands that print rows."""
    func = click.option("--wide", is_flag=True, expose_value=False, callback=_set_wide,
                        help=f"Table cells in full (by default text longer than {CELL} characters is cut, "
                             "marked …; ids, paths and other values without spaces never are).")(func)
    return click.option("--format", "-F", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
                        show_default=True, help="Output format: json and csv hold every value in full.")(func)


def emit_rows(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> None:
    """Print rows as an aligned table, JSON or CSV."""
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        click.echo(json.dumps([{c: r.get(c) for c in cols} for r in rows], indent=2, default=str))
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: _cell(r.get(c)) for c in cols})
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo("(no rows)")
        return
    ctx = click.get_current_context(silent=True)
    wide = bool(ctx and ctx.find_root().meta.get("kg.wide"))
    cells = [[_fit(_cell(r.get(c)), wide) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _fit(text: str, wide: bool) -> str:
    """A table cell: text with spaces longer than CELL is cut and ends in "…"; a value without
    whitespace (an id, a path, a hash, a URL) is never cut, since a cut one copied into the next
    command finds nothing."""
    if wide or len(text) <= CELL or not any(ch.isspace() for ch in text):
        return text
    return text[:CELL - 1] + "…"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)






def progress(items: Iterable[Any], *, total: int | None = None, label: str = "", unit: str = "rec") -> Any:
    """A progress bar on stderr when it is a terminal; the plain iterable otherwise."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=label, unit=unit, file=sys.stderr, leave=False)
