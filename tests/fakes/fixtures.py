"""Pytest fixtures for the fake provider servers (filled in by the provider work)."""
