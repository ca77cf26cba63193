"""The short-lived process: Typer commands, an httpx client of the daemon, rich views.

Never imports aiohttp; heavy libraries are imported inside the commands that use them.
"""
