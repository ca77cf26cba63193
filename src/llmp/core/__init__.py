"""Shared by the CLI and the daemon: no aiohttp, no typer, no rich here."""
