"""Test helpers: fake upstreams, an in-process gateway, the real daemon as a process."""
