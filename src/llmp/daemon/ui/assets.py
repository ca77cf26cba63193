"""The dashboard's files, shipped inside the package (`ui/static/`), served from memory.

Read once, when the first page is asked for, so a daemon nobody opens the
dashboard of never reads them. Only names found in the folder are served: a
request names a file, never a path.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: No inline script or style, nothing from another origin, no framing, no forms posting away.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_files: dict[str, tuple[bytes, str]] | None = None


def files() -> dict[str, tuple[bytes, str]]:
    """Every served file by its path under `static/` (`app.js`, `vendor/uplot.min.js`)."""
    global _files
    if _files is None:
        found: dict[str, tuple[bytes, str]] = {}
        root = resources.files("llmp.daemon.ui") / "static"
        stack = [(root, "")]
        while stack:
            folder, prefix = stack.pop()
            for entry in folder.iterdir():
                name = prefix + entry.name
                if entry.is_dir():
                    stack.append((entry, name + "/"))
                elif (kind := TYPES.get(name[name.rfind("."):])) is not None:
                    found[name] = (entry.read_bytes(), kind)
        _files = found
    return _files


def serve(name: str) -> web.Response:
    found = files().get(name)
    if found is None:
        raise web.HTTPNotFound()
    body, kind = found
    return web.Response(body=body, headers={"Content-Type": kind, "Cache-Control": "no-cache"})


async def index(_: web.Request) -> web.Response:
    return serve("index.html")


async def asset(request: web.Request) -> web.Response:
    return serve(request.match_info["name"])
