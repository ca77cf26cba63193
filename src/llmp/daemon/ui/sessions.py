"""Who may use the dashboard: one-time codes, session cookies and CSRF tokens.

The admin token never reaches a browser. `llmp ui` (holding the token) asks
the admin API for a one-time code and puts it in the URL's fragment, which a
browser never sends to a server nor to another site in a Referer. The page
trades the code for a session: an HttpOnly, SameSite=Strict cookie scoped to
`/ui`, and a CSRF token the page sends back in a header on every call that
changes something. Everything lives in this process's memory, so a restart
of the daemon ends every session. Codes and sessions are bounded in number:
the oldest gives way.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

COOKIE = "llmp_ui"
CSRF_HEADER = "X-CSRF-Token"
CODE_TTL = 120.0  # seconds a one-time code is good for: `llmp ui` opens the browser at once
SESSION_TTL = 12 * 3600.0  # an idle session ends after this long
MAX_CODES = 16
MAX_SESSIONS = 32

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Session:
    csrf: str
    last_seen: float


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._codes: OrderedDict[str, float] = OrderedDict()  # code -> when it expires
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # cookie value -> session

    def new_code(self) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = self._clock() + CODE_TTL
        while len(self._codes) > MAX_CODES:
            self._codes.popitem(last=False)
        return code

    def redeem(self, code: str) -> tuple[str, Session] | None:
        """A new session for a valid code, which is then spent; None for any other code."""
        expires = self._codes.pop(code, None)
        if expires is None or expires < self._clock():
            return None
        cookie = secrets.token_urlsafe(32)
        session = self._sessions[cookie] = Session(secrets.token_urlsafe(32), self._clock())
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return cookie, session

    def find(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        session = self._sessions.get(cookie) if cookie else None
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen > SESSION_TTL:
            del self._sessions[cookie]  # type: ignore[arg-type]
            return None
        session.last_seen = now
        self._sessions.move_to_end(cookie)  # type: ignore[arg-type]
        return session

    def end(self, request: web.Request) -> None:
        cookie = request.cookies.get(COOKIE)
        if cookie:
            self._sessions.pop(cookie, None)


SESSIONS = web.AppKey("ui_sessions", Sessions)


def set_cookie(response: web.StreamResponse, cookie: str) -> None:
    response.set_cookie(COOKIE, cookie, path="/ui", httponly=True, samesite="Strict")


def refused(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "authentication_error",
                                        "param": None, "code": "ui_session"}}, status=status)


def with_session(handler: Handler, *, changes: bool = False) -> Handler:
    """`handler` for a signed-in dashboard only; `changes`: it also needs the CSRF token."""

    async def checked(request: web.Request) -> web.StreamResponse:
        session = request.app[SESSIONS].find(request)
        if session is None:
            return refused(401, "no dashboard session: run `llmp ui` to open the dashboard")
        if changes and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape"),
                session.csrf.encode()):
            return refused(403, "missing or wrong CSRF token")
        return await handler(request)

    return checked
