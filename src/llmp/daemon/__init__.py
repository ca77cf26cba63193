"""The long-lived process: aiohttp server in front, aiohttp client behind. No typer, no rich."""
