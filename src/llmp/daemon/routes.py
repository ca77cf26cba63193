"""Adding an endpoint: every route is served behind the application's guard.

The guard (`guard.Guard`) wraps each handler where its route is added,
rather than running as an aiohttp middleware: a middleware costs every request
aiohttp's own middleware machinery too, about a dozen Python calls. A last
route takes every path and method no other route has, so the guard answers
those too (404, 405) in the client's wire shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Answered = Callable[[web.Request, web.StreamResponse], Awaitable[None]]
#: Told of a client API request answered with an error: (request, status, monotonic start time).
Refused = Callable[[web.Request, int, float], None]
#: The guard: a handler behind it, given the route's method and path (None: any path).
Guarding = Callable[[Handler, str, "str | None"], Handler]
#: What a client API route serves: (its operation, the client's wire format). Declared where the
#: route is added, so a request refused before its handler ran is still traced as what it asked for.
Operation = tuple[str, str]


class Routes:
    def __init__(self, router: web.UrlDispatcher, guard: Guarding) -> None:
        self._router = router
        self._guard = guard
        self._operations: dict[str, Operation] = {}

    def get(self, path: str, handler: Handler, operation: Operation | None = None) -> None:
        self._declare(self._router.add_get(path, self._guard(handler, "GET", path)), operation)

    def post(self, path: str, handler: Handler, operation: Operation | None = None) -> None:
        self._declare(self._router.add_post(path, self._guard(handler, "POST", path)), operation)

    def delete(self, path: str, handler: Handler, operation: Operation | None = None) -> None:
        self._declare(self._router.add_delete(path, self._guard(handler, "DELETE", path)), operation)

    def _declare(self, route: web.AbstractRoute, operation: Operation | None) -> None:
        if operation is not None and route.resource is not None:
            self._operations[route.resource.canonical] = operation

    def operation_of(self, request: web.Request) -> Operation | None:
        """The operation the route that took this request declared, if it declared one."""
        resource = request.match_info.route.resource
        return None if resource is None else self._operations.get(resource.canonical)

    def add_fallback(self) -> None:
        """The route for everything no other route takes; add it last."""
        # `[\s\S]`, not `.`: a path may hold a decoded line break, which `.` does not match.
        fallback = self._router.add_resource(r"/{tail:[\s\S]*}")

        async def no_route(request: web.Request) -> web.StreamResponse:
            allowed: set[str] = set()
            for resource in self._router.resources():
                if resource is not fallback:
                    allowed |= (await resource.resolve(request))[1]
            if allowed:
                raise web.HTTPMethodNotAllowed(request.method, allowed)
            raise web.HTTPNotFound()

        fallback.add_route("*", self._guard(no_route, "*", None))


ROUTES = web.AppKey("routes", Routes)
