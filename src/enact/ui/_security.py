"""What keeps the UI's pages and answers to the person who started it.

- **Host**: requests must name an allowed host (loopback names, or the
  address given with ``--host``), so a page on another site whose name was
  re-pointed at 127.0.0.1 (DNS rebinding) is refused (Starlette's
  `TrustedHostMiddleware`).
- **Token**: with a token (required when listening on anything but
  loopback), every request must carry the session cookie that opening the
  printed URL (``?token=...``) sets; the token is compared in constant time.
- **CSRF**: every browser gets a random session cookie (``HttpOnly``,
  ``SameSite=Strict``); state-changing requests must carry the token derived
  from it (a hidden form field) and an ``Origin`` (or ``Referer``) of this
  very server.
- **Headers**: a Content-Security-Policy that allows only this server's own
  scripts and styles (no inline script, no eval), no framing, no sniffing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any, Final

SESSION_COOKIE: Final = "enact_ui_session"
AUTH_COOKIE: Final = "enact_ui_auth"
CSRF_FIELD: Final = "csrf"

LOOPBACK_NAMES: Final = ("127.0.0.1", "localhost", "::1", "[::1]")

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or ``localhost``) is this machine only."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, token: str | None) -> list[str]:
    """The Host header names to accept when listening on `host`."""
    if host in ("0.0.0.0", "::", "") and token:
        return ["*"]  # any name reaches a wildcard bind; the token guards it
    names = ["127.0.0.1", "localhost", "::1", "[::1]"]
    if host not in names:
        names.append(host)
    return names


class Guard:
    """The session, token and header checks, as ASGI middleware around the app.

    Args:
        app: The application.
        token: The access token, or None (loopback only).
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self.secret = secrets.token_bytes(32)

    def csrf_token(self, session: str) -> str:
        """The CSRF token of a session (derived, so nothing is kept per session)."""
        return hmac.new(self.secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def _auth_value(self) -> str:
        assert self.token is not None
        return hmac.new(self.secret, b"auth:" + self.token.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        set_cookies: list[str] = []
        if self.token is not None and not hmac.compare_digest(
            cookies.get(AUTH_COOKIE, ""), self._auth_value()
        ):
            given = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1")).get(
                "token", [""]
            )[0]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                await _plain(send, 401, _LOGIN_PAGE)
                return
            # A valid token in the URL: keep it in a cookie and drop it from the address bar.
            cookie = f"{AUTH_COOKIE}={self._auth_value()}; Path=/; HttpOnly; SameSite=Strict"
            await _redirect(send, scope.get("path", "/"), [cookie])
            return
        session = cookies.get(SESSION_COOKIE, "")
        if len(session) != 43 or not all(c.isalnum() or c in "-_" for c in session):
            session = secrets.token_urlsafe(32)
            set_cookies.append(f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict")
        scope.setdefault("state", {})
        scope["state"]["session"] = session
        scope["state"]["csrf"] = self.csrf_token(session)
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and not _same_origin(scope):
            await _plain(
                send,
                403,
                "Refused: this request did not come from a page of this server (its Origin "
                "header names another site, or is missing).",
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_SECURITY_HEADERS)
                headers.extend((b"set-cookie", cookie.encode()) for cookie in set_cookies)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def check_csrf(self, session: str, given: str) -> bool:
        """Whether `given` is the CSRF token of `session`."""
        return bool(session) and hmac.compare_digest(given, self.csrf_token(session))


_SECURITY_HEADERS: Final = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]

_LOGIN_PAGE: Final = (
    "This enact ui needs its access token: open the URL that `enact ui` printed "
    "(it ends with ?token=...), or add ?token=TOKEN to this address."
)


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}


def _cookies(scope: Scope) -> dict[str, str]:
    header = _headers(scope).get("cookie", "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _same_origin(scope: Scope) -> bool:
    """Whether the request's Origin (or Referer) is this server, as its Host header names it."""
    headers = _headers(scope)
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is None or origin == "null":
        referer = headers.get("referer")
        if not referer:
            return False
        parts = urllib.parse.urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return bool(host) and origin == f"http://{host}"


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _local(path: str) -> str:
    """`path` if it is a path on this server (not ``//other.site``), else ``/``."""
    return path if path.startswith("/") and not path.startswith("//") else "/"


async def _redirect(send: Send, path: str, cookies: list[str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (
                    b"location",
                    (path if path.startswith("/") and not path.startswith("//") else "/").encode(
                        "latin-1"
                    ),
                ),
                (b"content-length", b"0"),
                *((b"set-cookie", cookie.encode()) for cookie in cookies),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
