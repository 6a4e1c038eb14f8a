"""``enact ui``: serve the web app on this machine (the app itself is `enact.ui`)."""

from __future__ import annotations

from pathlib import Path

import click

from enact.cli._app import CLIError, Session, command_options
from enact.cli._journal import pass_session


@click.command(name="ui", short_help="Serve a local web app: runs, trees, diffs, the inbox.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=int, default=8765, show_default=True, help="The port (0: a free one).")
@click.option("--token", default=None, help="Require this access token (needed off loopback).")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the access token from this file.",
)
@command_options
@pass_session
def ui(session: Session, host: str, port: int, token: str | None, token_file: Path | None) -> None:
    """Serve a web app on HOST:PORT showing the store: runs, trees, diffs, the inbox.

    Prints the URL to open. Runs are listed newest first (filter by status,
    function, time), with their call trees and history; two runs or states
    can be diffed; input requests are answered with a form built from the
    requested type, continuing the run (with --import for its modules) or
    recording the answer only. Listening on anything but loopback requires
    --token or --token-file. The UI runs no code from the store: only the
    modules named with --import.
    """
    if token and token_file:
        raise CLIError("Give --token or --token-file, not both.")
    if token_file is not None:
        try:
            token = token_file.read_text("utf-8").strip()
        except OSError as err:
            raise CLIError(
                f"Cannot read --token-file {token_file}: {err.strerror or err}."
            ) from err
        if not token:
            raise CLIError(f"--token-file {token_file} is empty: write the token into it.")
    from enact.ui import MISSING_EXTRA
    from enact.ui._server import UIError, check_host, serve

    try:
        check_host(host, token)
    except UIError as err:
        raise CLIError(str(err)) from err
    store = session.store()

    def announce(url: str) -> None:
        click.echo(f"enact ui: serving {session.where} at {url}", err=False)
        click.echo("Press Ctrl-C to stop.", err=True)

    try:
        serve(store, host=host, port=port, token=token, announce=announce)
    except ImportError as err:
        raise CLIError(MISSING_EXTRA if "ui" not in str(err) else str(err)) from err
    except UIError as err:
        raise CLIError(str(err)) from err
