"""A base for the library's small immutable records (frames, headers, data sets, ...).

They are plain slotted classes, not dataclasses: importing ``dataclasses`` (it pulls in
``inspect``, ``ast`` and ``dis``) and creating the classes took longer than the rest of
the library's import together (benchmark T5).
"""

from __future__ import annotations

# Subclasses set their fields with this in ``__init__``: assignment is refused after.
set_field = object.__setattr__


class Record:
    """Immutable fields named by ``__match_args__``; equality, hash and repr by them."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")
