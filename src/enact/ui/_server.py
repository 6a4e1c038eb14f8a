"""Running the app: bind the socket, print the URL, serve with uvicorn until Ctrl-C."""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Callable
from typing import Any

from enact.errors import EnactError
from enact.stores.store import Store


class UIError(EnactError, ValueError):
    """``enact ui`` cannot start as asked (a non-loopback host without a token, a busy port)."""


def load_app() -> Callable[..., Any]:
    """`enact.ui._app.create_app`, or an ImportError that says how to install the extra."""
    from enact.ui import MISSING_EXTRA

    try:
        from enact.ui._app import create_app
    except ImportError as err:
        raise ImportError(f"{MISSING_EXTRA} ({err}).") from err
    return create_app


def check_host(host: str, token: str | None) -> None:
    """Refuses to listen beyond loopback without a token.

    Raises:
        UIError: `host` is not a loopback address and no token is given.
    """
    from enact.ui._security import is_loopback

    if not is_loopback(host) and not token:
        raise UIError(
            f"enact ui --host {host} would let other machines see and answer runs: "
            "binding to anything but loopback (127.0.0.1, ::1, localhost) requires "
            "--token TOKEN or --token-file FILE."
        )


def url_for(host: str, port: int, token: str | None) -> str:
    """The URL to open (with ``?token=`` when a token guards the UI)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    query = "" if not token else "?" + urllib.parse.urlencode({"token": token})
    return f"http://{shown}:{port}/{query}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (0: a free port).

    Raises:
        UIError: The address cannot be bound (in use, not an address of this machine).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out at once, with
    # no 40 ms wait for a delayed ACK on kept-alive connections.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        raise UIError(
            f"enact ui cannot listen on {host}:{port}: {err.strerror or err}; choose another "
            "--port (0 picks a free one) or --host."
        ) from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    store: Store,
    *,
    host: str,
    port: int,
    token: str | None,
    announce: Callable[[str], Any],
) -> None:
    """Binds, prints the URL with `announce`, and serves until interrupted."""
    check_host(host, token)
    create_app = load_app()
    import uvicorn

    app = create_app(store, token=token, host=host)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    announce(url_for(host, actual, token))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
