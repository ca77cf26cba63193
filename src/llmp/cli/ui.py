"""`llmp ui`: open the daemon's web dashboard in the default browser.

The admin token stays in the terminal: the CLI asks the daemon for a one-time
sign-in code and puts it in the URL's fragment, which the browser never sends
over the network; the page trades it for a session cookie. The URL is
printed too, for when no browser can be opened (a remote shell, a server).
"""

from __future__ import annotations

import typer

from llmp.cli.command_table import command_help
from llmp.cli.console import fail


def ui(
    no_browser: bool = typer.Option(False, "--no-browser", help="Only print the URL."),
) -> None:
    from llmp.cli.admin_client import DaemonUnreachable, admin_request
    from llmp.cli.daemon_control import live_state
    from llmp.core.paths import resolve_paths

    state = live_state(resolve_paths())
    if state is None:
        fail("llmp is not running (start it with llmp start)")
    try:
        answer = admin_request(state, "POST", "/admin/ui/code")
    except DaemonUnreachable as exc:
        fail(str(exc))
    url = f"{state.base_url}{answer['path']}#code={answer['code']}"
    opened = False
    if not no_browser:
        import webbrowser

        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
    if opened:
        typer.echo("opened the dashboard in your browser; the link works once, for 2 minutes:", err=True)
    else:
        typer.echo("open this link in a browser on this machine (it works once, for 2 minutes):", err=True)
    typer.echo(url)


def register(app: typer.Typer) -> None:
    app.command(help=command_help("ui"))(ui)
