"""The parts of an IEC 62056-21 mode D readout (a DSMR / P1 telegram) read by :mod:`.dlde`.

A readout is ``/XXXZIdent`` CRLF, a blank line, data lines ``A-B:C.D.E(value*unit)``,
then ``!`` + 4 hex digits of CRC-16/ARC over ``/``..``!`` + CRLF. DSMR 2.2 to 4.x
meters may send a bare ``!`` without a CRC.
"""

from __future__ import annotations

from .obis_map import parse_obis
from .record import Record, set_field

CRC_DIGITS = 4
READOUT_END = b"\n!"
# The identification starts with "/", a 3-letter manufacturer flag and a baud rate
# character.
START_LENGTH = 5


class Identification(Record):
    """The identification line ``/KAM5Ident``."""

    __slots__ = __match_args__ = ("manufacturer_id", "baud_rate_id", "ident")
    manufacturer_id: str  # "KAM"
    baud_rate_id: str  # "5"
    ident: str  # the rest of the line, escapes like "\\2" kept

    def __init__(self, manufacturer_id: str, baud_rate_id: str, ident: str) -> None:
        set_field(self, "manufacturer_id", manufacturer_id)
        set_field(self, "baud_rate_id", baud_rate_id)
        set_field(self, "ident", ident)


class DataValue(Record):
    """One ``(value*unit)`` group, as written."""

    __slots__ = __match_args__ = ("value", "unit")
    value: str
    unit: str | None

    def __init__(self, value: str, unit: str | None) -> None:
        set_field(self, "value", value)
        set_field(self, "unit", unit)


class DataSet(Record):
    """One data line: its address as written, its values and its OBIS code."""

    __slots__ = __match_args__ = ("address", "values", "obis")
    address: str
    values: tuple[DataValue, ...]
    obis: tuple[int, int, int, int, int] | None  # None unless the address is numeric

    def __init__(
        self,
        address: str,
        values: tuple[DataValue, ...],
        obis: tuple[int, int, int, int, int] | None,
    ) -> None:
        set_field(self, "address", address)
        set_field(self, "values", values)
        set_field(self, "obis", obis)


# A data line as decoders read it: its address, and its values as written between the
# first "(" and the last ")": ``"1-0:1.8.0", "00001.011*kWh"``, or ``"a)(b*m3"`` for two.
DataLine = tuple[str, str]


class DataReadout(Record):
    """One readout (telegram); ``data_sets`` are parsed on first use."""

    __slots__ = ("_data_sets", "as_bytes", "crc", "identification", "is_good_crc", "payload")
    __match_args__ = ("as_bytes", "identification", "payload", "crc", "is_good_crc")
    as_bytes: bytes  # from "/" through the CRC digits and CRLF
    identification: Identification | None
    payload: bytes  # from "/" through "!" and the CRC digits
    crc: int | None  # None when the telegram carries none
    is_good_crc: bool | None  # None when there is no CRC to check
    _data_sets: tuple[DataSet, ...] | None

    def __init__(
        self,
        as_bytes: bytes,
        identification: Identification | None,
        payload: bytes,
        data_sets: tuple[DataSet, ...] | None = None,
        crc: int | None = None,
        is_good_crc: bool | None = None,
    ) -> None:
        set_field(self, "as_bytes", as_bytes)
        set_field(self, "identification", identification)
        set_field(self, "payload", payload)
        set_field(self, "_data_sets", data_sets)
        set_field(self, "crc", crc)
        set_field(self, "is_good_crc", is_good_crc)

    @property
    def data_sets(self) -> tuple[DataSet, ...]:
        """The data lines (parsed once, when first asked for: decoders may not need them)."""
        data_sets = self._data_sets
        if data_sets is None:
            data_sets = parse_data_sets(self.payload)
            set_field(self, "_data_sets", data_sets)
        return data_sets

    def data_lines(self) -> list[DataLine]:
        """The data lines without :class:`DataSet` objects (what decoders need, for less)."""
        data_sets = self._data_sets
        if data_sets is None:
            return parse_data_lines(self.payload)
        return [
            (
                data_set.address,
                ")(".join([f"{v.value}*{v.unit}" if v.unit else v.value for v in data_set.values]),
            )
            for data_set in data_sets
        ]

    @property
    def is_valid(self) -> bool:
        """Identified, ended by ``!`` and checked: by its CRC, or without one by its form.

        Without a CRC nothing vouches for the data, so the readout must at least be ASCII
        and end with "!" and a line end, as the standard writes it: noise rarely is.
        """
        if self.identification is None or self.is_good_crc is False:
            return False
        if self.crc is not None:
            return self.payload[-2 - CRC_DIGITS : -CRC_DIGITS] == READOUT_END
        return (
            self.payload.endswith(READOUT_END)
            and self.as_bytes.endswith((b"!\r\n", b"!\n"))
            and self.payload.isascii()
        )


def parse_identification(payload: bytes) -> Identification | None:
    """The ``/XXXZIdent`` line at the start of ``payload``."""
    line_end = payload.find(b"\n")
    line = (payload if line_end < 0 else payload[:line_end]).rstrip(b"\r").decode("latin-1")
    if len(line) < START_LENGTH or line[0] != "/":
        return None
    return Identification(line[1:4], line[4], line[5:])


def parse_data_lines(payload: bytes) -> list[DataLine]:
    """The data lines of a readout; a line starting with "(" continues the previous one."""
    lines: list[DataLine] = []
    for line in payload.decode("latin-1").split("\n")[1:]:  # after the identification
        first = line.find("(")
        last = line.rfind(")")
        if first < 0 or last < first:
            continue  # blank line, "!" line or noise
        if first:
            lines.append((line[:first], line[first + 1 : last]))
        elif lines:  # DSMR 2.2 puts the gas reading on a line of its own
            address, values = lines[-1]
            lines[-1] = (address, f"{values})({line[1:last]}")
    return lines


def parse_data_sets(payload: bytes) -> tuple[DataSet, ...]:
    """The data lines of a readout as :class:`DataSet` objects."""
    return tuple([_data_set(address, values) for address, values in parse_data_lines(payload)])


def _data_set(address: str, values: str) -> DataSet:
    parsed = []
    # Values may not contain "(" or ")", so plain splitting is exact (and fast).
    for text in values.split(")("):
        value, _, unit = text.partition("*")
        parsed.append(DataValue(value, unit or None))
    return DataSet(address, tuple(parsed), parse_obis(address))
