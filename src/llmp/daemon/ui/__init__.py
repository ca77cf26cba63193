"""The web dashboard at `/ui`: its routes, sessions and live feed; its files in `static/`."""

from llmp.daemon.ui.routes import add_routes

__all__ = ["add_routes"]
