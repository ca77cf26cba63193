"""Logs, metrics and usage: what the daemon did, for the person asking later."""
