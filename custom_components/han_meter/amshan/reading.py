"""The decoded values of one meter message."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing costs more than this whole module
    from typing import Any

    _Values = dict[str, Any]
else:
    _Values = dict


class MeterReading(_Values):
    """A flat dict of decoded values, keyed by the names in :mod:`.obis_map`.

    Numbers are ``int`` when integral, else ``float`` (power factor always ``float``);
    text is ``str``; ``meter_datetime`` is a ``datetime``. ``units`` gives the unit of
    every value that has one (known keys and unknown OBIS codes alike).
    """

    __slots__ = ("units",)

    def __init__(self, *args: Any, units: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units: dict[str, str] = {} if units is None else units

    def __repr__(self) -> str:
        return f"MeterReading({dict.__repr__(self)}, units={self.units!r})"


def scaled(raw: float, exponent: int) -> int | float:
    """``raw`` x 10^``exponent``, exactly: an int when the result is integral, else a float.

    Negative exponents divide by the power of ten, so the float is the one closest to the
    exact decimal result (2274 x 10^-1 is 227.4, not 227.40000000000003).
    """
    if isinstance(raw, int):
        if exponent >= 0:
            factor: int = 10**exponent
            return raw * factor
        divisor: int = 10**-exponent
        quotient, remainder = divmod(raw, divisor)
        return quotient if remainder == 0 else raw / divisor
    value = raw * 10.0**exponent if exponent >= 0 else raw / 10.0**-exponent
    return int(value) if value.is_integer() else value


def text_of(value: object) -> str:
    """Text of a string value: octet-strings as ASCII when printable, else as hex."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        if value.isascii() and value.decode("ascii").isprintable():
            return value.decode("ascii")
        return value.hex()
    return str(value)


# How a bound value is read again from its bytes (see Bindings).
NUMBER_SOURCE = "number"  # value x 10^exponent
POWER_FACTOR_SOURCE = "pf"  # value x 10^exponent, as a float
CLOCK_SOURCE = "clock"  # 12 COSEM date-time bytes
HEADER_CLOCK_PATH: tuple[int, ...] = (-1,)  # the APDU header's date-time


class Bindings:
    """Where each number and clock of a reading came from, recorded while decoding.

    A decoder binds every number and clock it puts in a reading to the index path of
    its element in the notification body (:data:`HEADER_CLOCK_PATH` for the APDU
    date-time), and marks elements it reads but does not report as ignored. Texts are
    not bound: they are part of a layout. With this record the
    :class:`~.layout_memory.LayoutMemory` decodes the next frame of the same layout
    in one struct call. A decoder that binds promises that whether it accepts a body
    depends only on the body's types, OBIS codes and texts, never on its numbers.
    """

    __slots__ = ("ignored", "sources")

    def __init__(self) -> None:
        self.sources: dict[str, tuple[tuple[int, ...], str, int]] = {}
        self.ignored: list[tuple[int, ...]] = []

    def bind(self, key: str, path: tuple[int, ...], source: str, exponent: int = 0) -> None:
        """``key`` was read from the element at ``path`` (replacing an earlier binding)."""
        self.sources[key] = (path, source, exponent)

    def unbind(self, key: str) -> None:
        """``key`` now holds a text (or nothing) read from no bound element."""
        self.sources.pop(key, None)

    def ignore(self, path: tuple[int, ...]) -> None:
        """The element at ``path`` was read but is not reported."""
        self.ignored.append(path)

    def clear(self) -> None:
        """Forget everything (before the next decoder tries the body)."""
        self.sources.clear()
        self.ignored.clear()
