"""kg serve: the web view of the knowledge graph (kg.web), on one local Flask server."""
from __future__ import annotations

import click

from kg.cli._options import Ctx, pass_ctx
from kg.exceptions import ConfigError, InputError

__all__ = ["register"]


def _administer(uri: str, *, add_user: str | None, grant: tuple[str, str] | None, read_only: bool,
                group: tuple[str, str] | None, revoke: tuple[str, str] | None, remove_user: str | None,
                list_users: bool) -> None:
    """The hub's user administration: one change (or the listing) in hub-users.json, then exit."""
    from kg.cli._options import emit_rows
    from kg.stores import open_store
    from kg.web import _users

    open_store(uri).close()  # the hub's store exists from its first user on
    path = _users.users_file(uri)
    if add_user:
        click.echo(_users.add_user(path, add_user))
        click.echo(f"kg serve: user {add_user} added to {path}; give them the token above "
                   f"(they set KG_TOKEN to it)", err=True)
    if remove_user:
        if not _users.remove_user(path, remove_user):
            raise InputError(f"no hub user {remove_user!r}")
        click.echo(f"kg serve: user {remove_user} removed; their token no longer works", err=True)
    if group:
        _users.add_to_group(path, *group)
        click.echo(f"kg serve: {group[1]} is in group {group[0]}", err=True)
    if grant:
        _users.grant(path, grant[0], grant[1], "read" if read_only else "write")
        what = "read" if read_only else "read and write"
        click.echo(f"kg serve: {grant[0]} may {what} experiment {grant[1]}", err=True)
    if revoke:
        if not _users.revoke(path, *revoke):
            raise InputError(f"{revoke[0]} has no grant on experiment {revoke[1]!r}")
        click.echo(f"kg serve: {revoke[0]} no longer has a grant on experiment {revoke[1]}", err=True)
    if list_users:
        emit_rows(_users.listing(path), "table", ["kind", "name", "grants", "members"])


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
    @click.option("--add-user", metavar="NAME", default=None,
                  help="Create hub user NAME (or renew their token), print the token, and exit.")
    @click.option("--grant", nargs=2, metavar="USER|@GROUP EXPERIMENT", default=None,
                  help="Let USER (or every member of GROUP) read and write EXPERIMENT on the hub, and exit.")
    @click.option("--read-only", is_flag=True, help="With --grant: read (pull, view) but not write.")
    @click.option("--group", nargs=2, metavar="GROUP USER", default=None,
                  help="Put USER in GROUP (created on first use), and exit.")
    @click.option("--revoke", nargs=2, metavar="USER|@GROUP EXPERIMENT", default=None,
                  help="Take back a grant, and exit.")
    @click.option("--remove-user", metavar="NAME", default=None,
                  help="Delete hub user NAME (their token stops working at once), and exit.")
    @click.option("--users", "list_users", is_flag=True, help="List hub users and groups with their grants, and exit.")
    @click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="A file holding one token that may read and write every experiment.")
    @click.option("--open", "open_", is_flag=True,
                  help="Hub without tokens: anyone who reaches the server may read and write (trusted networks only).")
    @click.option("--behind-proxy", is_flag=True,
                  help="Served through a TLS reverse proxy: trust its X-Forwarded-* headers and send the "
                       "sign-in cookie over HTTPS only.")
    @click.option("--max-body", type=click.IntRange(1), default=None, metavar="BYTES",
                  help="Largest request body the hub accepts (default: 256 MiB).")
    @pass_ctx
    def serve_cmd(ctx: Ctx, store: str | None, host: str, port: int, browser: bool, add_user: str | None,
                  grant: tuple[str, str] | None, read_only: bool, group: tuple[str, str] | None,
                  revoke: tuple[str, str] | None, remove_user: str | None, list_users: bool,
                  token_file: str | None, open_: bool, behind_proxy: bool, max_body: int | None) -> None:
        """Serve a web view of the store: runs and trials, their task trees, files,
        history, diffs, lineage graphs and engine workflows.

        Every page has its own URL; all are read-only (GET). Stop with Ctrl+C.
        Needs Flask: pip install 'provkg[web]'.

        The server is also a collaboration hub: `kg push --to URL/experiments/NAME`
        and `kg pull --from ...` move runs with their file contents. Hub requests need
        a user's token (--add-user) or the --token-file token, unless --open.

        \b
        Example:
          kg serve -b
          kg serve --store other.db --port 8080
          kg serve --port 0        (any free port; the URL is printed)
          kg serve --add-user alice          (prints alice's token)
          kg serve --grant bob paper-2026    (bob may read and write alice's experiment)
          kg serve --group lab carol && kg serve --grant @lab paper-2026 --read-only
          kg serve --revoke bob paper-2026   |   kg serve --remove-user bob   |   kg serve --users
          kg serve --host 0.0.0.0 --port 8080
          kg serve --port 5000 --behind-proxy   (https://hub.example.org proxied to it)
        """
        from kg.config import store_uri

        if add_user or grant or group or revoke or remove_user or list_users:
            _administer(store_uri(store or ctx.store_uri), add_user=add_user, grant=grant, read_only=read_only,
                        group=group, revoke=revoke, remove_user=remove_user, list_users=list_users)
            return
        admin_token = None
        if token_file:
            with open(token_file, encoding="utf-8") as fh:
                admin_token = fh.read().strip()
            if len(admin_token) < 16:
                raise ConfigError(f"{token_file}: a token needs at least 16 characters")
        try:
            from werkzeug.serving import make_server

            from kg.web import create_app
        except ImportError as exc:
            raise ConfigError(f"kg serve needs Flask: pip install 'provkg[web]' ({exc})") from None
        app = create_app(store or ctx.store_uri, admin_token=admin_token, open_=open_, behind_proxy=behind_proxy,
                         **({"max_body": max_body} if max_body else {}))
        try:
            server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{server.server_port}/"
        # The line tests and scripts wait for (and parse the port from, when --port 0).
        click.echo(f"kg serve: {url} (Ctrl+C to stop)", err=True)
        if browser:
            import threading
            import webbrowser

            threading.Timer(0.5, webbrowser.open, (url,)).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
