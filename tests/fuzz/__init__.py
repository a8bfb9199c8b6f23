"""Fuzzing the library and its asyncio protocols (hypothesis)."""
