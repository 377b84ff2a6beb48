"""The ``kg`` command line: a thin click layer over the library.

Commands live in ``kg/cli/cmd_*.py`` modules, each with a ``register(group)``
function; they are discovered at start-up so each feature adds its own file."""
from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import click

from kg._version import __version__
from kg.cli._options import Ctx
from kg.exceptions import KGError

__all__ = ["main", "cli"]

EPILOG = """\b
Examples:
  kg list                          runs and trials in this project's store
  kg show 1                        the task tree of run 1
  kg lineage t-abc.../out/y --up   what a value was derived from
  kg export 1 --format provjson -o run1.json
Store: --store PATH|URI, else $KG_STORE, else $KG_HOME/kg.db (KG_HOME defaults to ./.kg).
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", "store", metavar="PATH|URI", envvar="KG_STORE", default=None,
              help="Store to use: a .db path, jsonl://FILE, bolt://HOST:PORT, neo4j://HOST:PORT, or redis://HOST:PORT (capture only).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="provkg")
@click.pass_context
def cli(ctx: click.Context, store: str | None, debug: bool) -> None:
    """provkg: a provenance knowledge graph for Python.

    Capture script runs (`kg run`), decorated tasks and workflows as W3C PROV,
    then list, show, query, diff and export them."""
    ctx.obj = Ctx(store, debug)
    ctx.call_on_close(ctx.obj.close)


def _discover() -> None:
    import kg.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"kg.cli.{info.name}")
            module.register(cli)


_discover()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kg`` console script: KGError -> one line on stderr, exit 1."""
    logging.basicConfig(level=logging.WARNING, format="kg: %(message)s")
    args = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args
    if "push" not in args:
        try:  # write-behind captures not yet in Neo4j: a pusher sends them (kg push sends them itself)
            from kg.outbox import resume_pushers

            resume_pushers()
        except Exception as exc:  # never fail a command for it
            logging.getLogger("kg").debug("outbox: %s", exc)
    try:
        cli.main(args=argv, prog_name="kg", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("kg: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KGError as exc:
        if debug:
            raise
        click.echo(f"kg: error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
