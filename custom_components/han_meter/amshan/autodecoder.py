"""Decode whatever a meter sends, without being told the meter type.

:class:`AutoDecoder` accepts the HDLC information field (LLC + APDU), a bare
DATA-NOTIFICATION APDU, a bare notification body (as MQTT bridges publish it) or a
P1 telegram, tries the meter layouts in turn (the one that worked last first) and
returns a :class:`~.reading.MeterReading`, or None for anything it cannot decode.
It never raises for bad data.

Frames of a layout seen before are decoded by a remembered template
(:mod:`.layout_memory`): one struct call instead of a parse, with the same result; P1
telegrams likewise (:mod:`.p1_layout_memory`).

Values of the wrong type for their key, or outside physical ranges for their unit, are
dropped from the reading and counted in :attr:`AutoDecoder.rejected_values`. A numeric
key (a quantity with a unit, known or an unknown code, or a power factor) must hold an
int or a float, a text key (list version, meter id, type, manufacturer) a str and the
meter clock a datetime. Out of range are: power above 1 MW (or var, VA) in magnitude,
voltage below 0 or above 1000 V, current above 10 kA in magnitude, a power factor
outside -1..1, a negative (or absurdly large) energy register, and NaN.

Vendor decoders are tried before the generic ones (positional, then any OBIS list), the
one that worked last first; a generic decoder is never tried first, so a frame decodes
to the same values whatever meter was heard before.
"""

from __future__ import annotations

from datetime import datetime
from math import isfinite

from . import aidon, kaifa, kamstrup, obis_list, p1, positional
from .axdr import AxdrError
from .cosem import (
    DATA_NOTIFICATION,
    LLC_HEADER,
    DataNotification,
    decode_data_notification,
    decode_notification_body,
)
from .dlde import DataReadout
from .hdlc import HdlcFrame
from .layout_memory import LayoutMemory
from .obis_map import KEY_UNITS, METER_DATETIME, POWER_FACTOR_KEYS, TEXT_KEYS
from .reading import Bindings, MeterReading

# Names only annotations use: imported for type checkers, not at run time (benchmark T5).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

    from .p1_layout_memory import P1LayoutMemory
    from .unwrap import MessageUnwrapper

    NotificationDecoder = Callable[[DataNotification], MeterReading | None]

# Tried in this order (after the one that worked last): the specific layouts first.
DECODERS: Final[tuple[tuple[str, NotificationDecoder], ...]] = (
    (aidon.NAME, aidon.decode),
    (kamstrup.NAME, kamstrup.decode),
    (kaifa.NAME, kaifa.decode),
    (kaifa.LANDIS_GYR_NAME, kaifa.decode_landis_gyr),
    (positional.NAME, positional.decode),
    (obis_list.NAME, obis_list.decode),
)
# Generic decoders take layouts a vendor decoder owns (without its implicit scaling):
# they are tried last, in this order, even when one of them worked last.
_GENERIC: Final = frozenset((positional.NAME, obis_list.NAME))
_DEFAULT_ORDER: Final = tuple(range(len(DECODERS)))
_ORDERS: Final[dict[int | None, tuple[int, ...]]] = {
    index: (index, *(other for other in _DEFAULT_ORDER if other != index))
    if name not in _GENERIC
    else _DEFAULT_ORDER
    for index, (name, _) in enumerate(DECODERS)
}
_ARRAY, _STRUCTURE = 0x01, 0x02
_P1_START = b"/"
# First APDU bytes that need the unwrapper (General Block Transfer, general-glo- and
# general-ded-ciphering; see .unwrap): other content is plain.
WRAPPED_APDU_TAGS = (b"\xe0", b"\xdb", b"\xdc")
MAX_POWER = 1e6  # W, var, VA
MAX_VOLTAGE = 1000.0  # V
MAX_CURRENT = 10e3  # A
MAX_ENERGY = 1e15  # Wh, varh, VAh: far above any register, below infinity
# unit -> (lowest, highest) plausible value; NaN fails every comparison
_LIMITS: Final[dict[str, tuple[float, float]]] = {
    **dict.fromkeys(("W", "var", "VA"), (-MAX_POWER, MAX_POWER)),
    **dict.fromkeys(("Wh", "varh", "VAh"), (0.0, MAX_ENERGY)),
    "V": (0.0, MAX_VOLTAGE),
    "A": (-MAX_CURRENT, MAX_CURRENT),
}
# Types by key: the known quantities and power factors are numbers (int or float, never
# bool), the text keys str, the meter clock a datetime; an unknown code is a number when
# it carries a unit, else a number, a text or a datetime.
_NOT_NUMBERS: Final = TEXT_KEYS | {METER_DATETIME}
_KNOWN_KEYS: Final = frozenset(KEY_UNITS) | POWER_FACTOR_KEYS | _NOT_NUMBERS
# key -> plausible range, for the known keys that have one
_KEY_LIMITS: Final[dict[str, tuple[float, float]]] = {
    **{key: _LIMITS[unit] for key, unit in KEY_UNITS.items() if unit in _LIMITS},
    **dict.fromkeys(POWER_FACTOR_KEYS, (-1.0, 1.0)),
}


def plausible_range(key: str, unit: str | None) -> tuple[float, float] | None:
    """The plausible range of the numbers of ``key`` (in ``unit``), None when any goes."""
    return _KEY_LIMITS.get(key) or _LIMITS.get(unit or "")


class AutoDecoder:
    """Finds the layout of each message and decodes it; remembers the last that worked."""

    def __init__(
        self, encryption_key: bytes | None = None, authentication_key: bytes | None = None
    ) -> None:
        self.encryption_key = encryption_key
        self.authentication_key = authentication_key
        self.rejected_values = 0  # implausible values dropped so far
        self._last_decoder: int | None = None  # index into DECODERS, or -1 for P1
        self._layouts = LayoutMemory()
        self._p1 = p1.P1Decoder()
        self._p1_layouts: P1LayoutMemory | None = None  # made for the first P1 readout
        # Reassembly and decryption (issue 7), and P1 layouts, are set up when first needed:
        # most meters need neither, and importing them costs more than the rest of the
        # library (benchmark T5).
        self._unwrapper: MessageUnwrapper | None = None
        if encryption_key is not None or authentication_key is not None:
            self._unwrapper = self.unwrapper  # raises ValueError for a key that is not 16 bytes

    @property
    def last_error(self) -> str | None:
        """Why the last ciphered or split content gave nothing, None when it unwrapped.

        One of "encrypted_no_key", "wrong_key", "wrong_authentication_key",
        "unsupported_security", "malformed" (see :mod:`.unwrap`).
        """
        return None if self._unwrapper is None else self._unwrapper.last_error

    @property
    def unwrapper(self) -> MessageUnwrapper:
        """The reassembly and decryption step (counters, last system title)."""
        if self._unwrapper is None:
            from .unwrap import MessageUnwrapper  # see __init__

            self._unwrapper = MessageUnwrapper(self.encryption_key, self.authentication_key)
        return self._unwrapper

    @property
    def decoder_name(self) -> str | None:
        """Name of the decoder that worked last ("aidon", "kaifa", "p1", ...), or None."""
        if self._last_decoder is None:
            return None
        if self._last_decoder < 0:
            return p1.NAME
        return DECODERS[self._last_decoder][0]

    def decode_message(self, message: HdlcFrame | DataReadout | object) -> MeterReading | None:
        """Decode a valid HDLC frame or P1 readout from the readers; None for anything else."""
        try:
            if isinstance(message, DataReadout):
                return self._decode_p1(message) if message.is_valid else None
            content = self._message_content(message)
            return None if content is None else self.decode_frame_content(content)
        except Exception:  # the stream must go on whatever a message holds
            _debug("Message could not be decoded", exc_info=True)
            return None

    def decode_frame_content(self, content: bytes) -> MeterReading | None:
        """Decode LLC + APDU, a bare APDU, a bare notification body or a P1 telegram."""
        try:
            plain = self._unwrap(bytes(content))
            return None if plain is None else self._decode_plain(plain)
        except Exception:  # the stream must go on whatever a message holds
            _debug("Content could not be decoded", exc_info=True)
            return None

    def _message_content(self, message: object) -> bytes | None:
        """The bytes to decode from a reader's message (hook for reassembly)."""
        if self._unwrapper is None and type(message) is HdlcFrame and message.is_valid:
            header = message.header
            if header is not None and not header.segmentation:
                return message.payload  # a whole frame, and no message in pieces pending
        unwrapper = self.unwrapper
        if unwrapper.handles(message):  # HDLC, M-Bus, bare ciphered APDU frames
            return unwrapper.join_message(message)
        return None

    def _unwrap(self, content: bytes) -> bytes | None:
        """Plain content from what was received: a hook for decryption.

        Returns the bytes to decode (``content`` itself when it is not ciphered), or None
        when they cannot be made plain (ciphered without a key, or incomplete).
        """
        if self._unwrapper is None:
            tag = content[3:4] if content[:3] == LLC_HEADER else content[:1]
            if tag not in WRAPPED_APDU_TAGS:
                return content
        return self.unwrapper.unwrap_content(content)

    def _decode_plain(self, content: bytes) -> MeterReading | None:
        if content.startswith(LLC_HEADER):
            content = content[len(LLC_HEADER) :]
        if not content:
            return None
        first = content[0]
        if first != DATA_NOTIFICATION and first != _ARRAY and first != _STRUCTURE:  # noqa: PLR1714
            if content.lstrip()[:1] == _P1_START:
                readout = p1.first_valid_readout(content)
                return None if readout is None else self._decode_p1(readout)
            _debug("Unknown content starting with 0x%02x", first)
            return None
        remembered = self._layouts.decode(content)
        if remembered is not None:
            self._last_decoder, fast_reading = remembered
            return self._plausible(fast_reading)
        bindings = Bindings()
        try:
            if first == DATA_NOTIFICATION:
                notification = decode_data_notification(content, bindings)
            else:
                notification = decode_notification_body(content, bindings)
        except AxdrError as error:
            _debug("Bad DLMS data: %s", error)
            return None
        reading = self._decode_notification(notification, bindings)
        if reading is None:
            return None
        self._layouts.learn(self._last_decoder or 0, content, notification, reading)
        return self._plausible(reading)

    def _decode_notification(
        self, notification: DataNotification, bindings: Bindings
    ) -> MeterReading | None:
        for index in _ORDERS.get(self._last_decoder, _DEFAULT_ORDER):
            bindings.clear()  # what a decoder that gave up recorded
            reading = DECODERS[index][1](notification)
            if reading is not None:
                self._last_decoder = index
                return reading
        return None

    def _decode_p1(self, readout: DataReadout) -> MeterReading | None:
        layouts = self._p1_layouts
        if layouts is None:
            from .p1_layout_memory import P1LayoutMemory  # see __init__

            layouts = self._p1_layouts = P1LayoutMemory(plausible_range, self._p1.plan)
        reading = layouts.decode(readout)
        if reading is not None:
            self._last_decoder = -1
            return reading  # its values are known plausible: the layout checked them
        reading = p1.decode_readout(readout, self._p1)
        if reading is None:
            return None
        self._last_decoder = -1
        rejected = self.rejected_values
        plausible = self._plausible(reading)
        if self.rejected_values == rejected:  # else the layout would not give the same
            layouts.learn(readout, reading)
        return plausible

    def _plausible(self, reading: MeterReading) -> MeterReading | None:
        """Drop the values of the wrong type or outside physical ranges; None when none left."""
        units = reading.units
        rejected = []
        for key, value in reading.items():
            kind = type(value)
            if kind is int or kind is float:
                limits = _KEY_LIMITS.get(key) or _LIMITS.get(units.get(key, ""))
                if (
                    key in _NOT_NUMBERS
                    or (kind is float and not isfinite(value))
                    or (limits is not None and not limits[0] <= value <= limits[1])
                ):
                    rejected.append(key)
            elif kind is str:
                if key not in TEXT_KEYS and (key in _KNOWN_KEYS or key in units):
                    rejected.append(key)
            elif isinstance(value, datetime):
                if key != METER_DATETIME and (key in _KNOWN_KEYS or key in units):
                    rejected.append(key)
            else:  # bool, bytes, None, ...: nothing a sensor shows
                rejected.append(key)
        for key in rejected:
            _debug("Implausible value dropped: %s = %r", key, reading[key])
            del reading[key]
            units.pop(key, None)
        self.rejected_values += len(rejected)
        return reading or None


def _debug(message: str, *args: object, exc_info: bool = False) -> None:
    """Log a debug message. ``logging`` is imported here, not with the module: only bad
    data is logged, and importing it costs more than the whole library (benchmark T5).
    """
    import logging

    logging.getLogger(__name__).debug(message, *args, exc_info=exc_info)
