"""kg serve: the web view of the knowledge graph (kg.web), on one local Flask server."""
from __future__ import annotations

import threading
import webbrowser

import click

from kg.cli._options import Ctx, pass_ctx
from kg.exceptions import ConfigError

__all__ = ["register"]


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--store", "store", metavar="PATH|URI", default=None,
                  help="Store to show (default: kg's own --store, else $KG_STORE, else $KG_HOME/kg.db).")
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to listen on (the pages are read-only, but anyone who reaches them "
                       "sees the whole graph: keep it local unless you mean to share it).")
    @click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True,
                  help="Port to listen on (0: any free port).")
    @click.option("-b", "--browser", is_flag=True, help="Open the runs page in a web browser.")
    @pass_ctx
    def serve_cmd(ctx: Ctx, store: str | None, host: str, port: int, browser: bool) -> None:
        """Serve a web view of the store: runs and trials, their task trees, files,
        history, diffs, lineage graphs and engine workflows.

        Every page has its own URL; all are read-only (GET). Stop with Ctrl+C.
        Needs Flask: pip install 'provkg[web]'.

        \b
        Example:
          kg serve -b
          kg serve --store other.db --port 8080
          kg serve --port 0        (any free port; the URL is printed)
        """
        try:
            from werkzeug.serving import make_server

            from kg.web import create_app
        except ImportError as exc:
            raise ConfigError(f"kg serve needs Flask: pip install 'provkg[web]' ({exc})") from None
        app = create_app(store or ctx.store_uri)
        try:
            server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{server.server_port}/"
        # The line tests and scripts wait for (and parse the port from, when --port 0).
        click.echo(f"kg serve: {url} (Ctrl+C to stop)", err=True)
        if browser:
            threading.Timer(0.5, webbrowser.open, (url,)).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
