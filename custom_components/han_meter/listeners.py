"""Callbacks that parts of the integration register with each other."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import CALLBACK_TYPE, callback


class Listeners[**P]:
    """Callbacks called in the order they were added; adding one returns its remover."""

    __slots__ = ("_last_id", "_listeners")

    def __init__(self) -> None:
        """Start without listeners."""
        self._listeners: dict[int, Callable[P, None]] = {}
        self._last_id = 0

    @callback
    def add(self, listener: Callable[P, None]) -> CALLBACK_TYPE:
        """Register `listener`; the returned function removes it (again: no effect)."""
        self._last_id += 1
        listener_id = self._last_id
        self._listeners[listener_id] = listener

        @callback
        def _remove() -> None:
            self._listeners.pop(listener_id, None)

        return _remove

    @callback
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every listener (one may remove itself or another while it runs)."""
        for listener in list(self._listeners.values()):
            listener(*args, **kwargs)
