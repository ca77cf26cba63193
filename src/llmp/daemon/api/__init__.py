"""Inbound wire formats: what clients send, turned into the canonical request."""
