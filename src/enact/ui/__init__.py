"""``enact ui``: a local web app to find runs, see their call trees, diff them and answer them.

Needs the optional ``ui`` extra (Starlette, uvicorn, Jinja2, python-multipart):
``pip install 'enact[ui]'``. The page's one script library, htmx, is
vendored under ``static/`` (with its license), so the UI works offline.

`create_app` returns the ASGI application for a store; `serve` runs it with
uvicorn on a socket it binds first (so port 0 picks a free port) and prints
the URL. Pages only read the store, a bounded amount per page; the one
request that changes anything, answering an input request, needs the form's
session token (CSRF), an ``Origin`` of this server, and the head the form
was built from (the run's compare-and-set claim makes it happen once). See
`enact.ui._security` for the host, token and header checks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING_EXTRA", "create_app", "serve"]

MISSING_EXTRA = (
    "enact ui needs the optional 'ui' extra (Starlette, uvicorn, Jinja2, python-multipart): "
    "pip install 'enact[ui]'"
)


def create_app(store: Any, *, token: str | None = None, host: str = "127.0.0.1") -> Any:
    """The ASGI application of ``enact ui`` for `store` (see `enact.ui._app.create_app`).

    Raises:
        ImportError: The ``ui`` extra is not installed (the message says how to install it).
    """
    from enact.ui._server import load_app

    return load_app()(store, token=token, host=host)


def serve(
    store: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    announce: Any = print,
) -> None:
    """Serves the UI for `store` until interrupted (see `enact.ui._server.serve`)."""
    from enact.ui._server import serve as _serve

    _serve(store, host=host, port=port, token=token, announce=announce)
