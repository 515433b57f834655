"""Request guards that run before any route: ``Host`` and ``Origin`` checks, API tokens, and the body size of
every request but the image upload.

The upload route reads its multipart body under its own limits (:mod:`.uploads`). Every other body is JSON of
bounded size (a review holds at most 10,000 changes), so :class:`BodyLimit` refuses a larger one with 413 before
it is parsed: from ``Content-Length`` when the client sends it, else while the body streams in.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote

from fastapi import HTTPException

__all__ = [
    "LOOPBACK_HOSTS",
    "REVIEWER_KEY",
    "TOKEN_COOKIE",
    "BodyLimit",
    "HostOriginGuard",
    "TokenGuard",
    "host_name",
    "parse_tokens",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: bodies over ``limit`` bytes answer 413 ``{"detail": ...}``, except ``exempt`` routes
    (``(method, path)`` pairs, which enforce their own limits)."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[tuple[str, str], ...] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, set(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"].rstrip("/")) in self.exempt:
            await self.app(scope, receive, send)
            return
        message = f"request body over {self.limit} bytes"
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, 413, message)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, message)
            return msg

        await self.app(scope, counted, send)


LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names a service always answers to (its own loopback names)."""

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(value: str) -> str | None:
    """The host name of a ``Host`` header or an ``Origin`` (port, scheme and IPv6 brackets removed, lower case);
    ``None`` when it has none."""
    from urllib.parse import urlsplit

    text = value.strip()
    try:
        return urlsplit(text if "//" in text else "//" + text).hostname
    except ValueError:
        return None


async def _refuse(send: Send, status: int, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """Answer ``{"detail": message}`` with ``status`` (and ``extra`` headers) without calling the app."""
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HostOriginGuard:
    """ASGI middleware against DNS rebinding and cross-site requests.

    * ``Host`` must name this service: a loopback name or one of ``allowed`` (400 otherwise). A page on
      ``evil.example`` whose name was rebound to 127.0.0.1 sends ``Host: evil.example`` and is refused.
    * A state-changing request (POST, PUT, PATCH, DELETE) that a browser marks as coming from another site (an
      ``Origin`` whose host is not allowed, ``Origin: null``, or ``Sec-Fetch-Site: cross-site``) is refused
      with 403, so a page the user visits cannot create analyses, review or delete. Clients that send no
      ``Origin`` (curl, scripts) are not browsers and are let through.
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app, self.allowed = app, frozenset(h.lower() for h in allowed) | LOOPBACK_HOSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()}
        host = host_name(headers.get(b"host", ""))
        if host not in self.allowed:
            await _refuse(
                send,
                400,
                f"host {host!r} is not served here (start the service with --allowed-host NAME to add it)",
            )
            return
        if scope["method"] in _STATE_CHANGING:
            origin = headers.get(b"origin")
            cross = headers.get(b"sec-fetch-site", "") == "cross-site"
            if cross or (origin is not None and host_name(origin) not in self.allowed):
                await _refuse(send, 403, f"cross-site request refused (origin {origin or 'another site'})")
                return
        await self.app(scope, receive, send)


TOKEN_COOKIE = "leukodet_token"
"""Cookie the web page sets (SameSite=Strict) so that the images it shows carry the token too."""

MIN_TOKEN_LENGTH = 16
REVIEWER_KEY = "leukodet.reviewer"
"""ASGI scope key of the name of the token a request carried (the reviewer of its changes)."""


def parse_tokens(values: Sequence[str]) -> dict[str, str]:
    """``["NAME:SECRET", ...]`` → ``{secret: name}``; ``ValueError`` naming a malformed, short or repeated one."""
    tokens: dict[str, str] = {}
    for value in values:
        name, sep, secret = value.partition(":")
        name, secret = name.strip(), secret.strip()
        if not sep or not name or not secret:
            raise ValueError(f"token {name or value!r}: expected NAME:SECRET")
        if len(secret) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token of {name!r} is shorter than {MIN_TOKEN_LENGTH} characters")
        if secret in tokens:
            raise ValueError(f"tokens of {tokens[secret]!r} and {name!r} are the same secret")
        tokens[secret] = name
    return tokens


class TokenGuard:
    """ASGI middleware: every ``/v1`` request but ``/v1/health`` must carry one of the service's tokens
    (``Authorization: Bearer SECRET``, or the page's :data:`TOKEN_COOKIE`), else 401. The name of the token
    goes into the scope (:data:`REVIEWER_KEY`): it is the reviewer of the request's review changes. The page
    itself (``/``, its script and style) holds no data and needs no token."""

    def __init__(self, app: ASGIApp, tokens: dict[str, str]) -> None:
        self.app, self.tokens = app, tokens

    def _name(self, headers: dict[bytes, str]) -> str | None:
        given = ""
        auth = headers.get(b"authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        else:
            for part in headers.get(b"cookie", "").split(";"):
                key, _, value = part.strip().partition("=")
                if key == TOKEN_COOKIE:
                    given = unquote(value.strip())
        found = None
        for secret, name in self.tokens.items():  # every secret compared, in constant time each
            if hmac.compare_digest(given.encode(), secret.encode()):
                found = name
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v1" or path.startswith("/v1/")) or path == "/v1/health":
            await self.app(scope, receive, send)
            return
        name = self._name({k.lower(): v.decode("latin-1") for k, v in scope.get("headers") or ()})
        if name is None:
            message = "missing or wrong API token (send Authorization: Bearer TOKEN)"
            await _refuse(send, 401, message, ((b"www-authenticate", b"Bearer"),))
            return
        scope[REVIEWER_KEY] = name
        await self.app(scope, receive, send)
