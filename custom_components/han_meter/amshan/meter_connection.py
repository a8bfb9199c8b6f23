"""asyncio protocols that turn a byte stream from a meter into whole messages.

A stream can carry HDLC frames (DLMS/COSEM push meters), IEC 62056-21 mode D
readouts (P1) or wired M-Bus long frames (Austrian meters). Until the format is known
every chunk is given to every reader; the first reader that yields a valid message is
kept and the others are dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .dlde import ModeDReader
from .hdlc import HdlcFrameReader
from .mbus import MbusFrameReader

_LOGGER = logging.getLogger(__name__)

DEFAULT_INVALID_LOG_FIRST = 3
DEFAULT_INVALID_LOG_INTERVAL = 60.0


class Message(Protocol):
    """What a reader yields: ``is_valid`` (checksums and length right), ``payload`` (the
    content: HDLC information field or P1 telegram) and ``as_bytes`` (as read)."""

    @property
    def is_valid(self) -> bool: ...  # pragma: no cover
    @property
    def payload(self) -> bytes: ...  # pragma: no cover
    @property
    def as_bytes(self) -> bytes: ...  # pragma: no cover


class Reader(Protocol):
    """A stream reader: bytes in, the messages they complete out; never raises."""

    def read(self, data: bytes) -> Sequence[Message]: ...  # pragma: no cover


def default_readers() -> list[Reader]:
    """Fresh readers for every format a meter stream can carry."""
    return [HdlcFrameReader(), ModeDReader(), MbusFrameReader()]


class ReaderSelector:
    """Feeds chunks to several readers until one of them yields a valid message.

    From then on only that reader is used. Messages of the readers that lost the
    race are ignored, apart from being returned as invalid before the choice.
    """

    __slots__ = ("_readers",)

    def __init__(self, readers: Sequence[Reader] | None = None) -> None:
        self._readers: list[Reader] = list(readers) if readers is not None else default_readers()
        if not self._readers:
            raise ValueError("at least one reader is needed")

    @property
    def selected(self) -> Reader | None:
        """The reader in use once the format is known, else None."""
        return self._readers[0] if len(self._readers) == 1 else None

    def read(self, data: bytes) -> list[Message]:
        """Messages completed by this chunk, valid and invalid, in stream order."""
        if len(self._readers) == 1:
            return list(self._readers[0].read(data))
        rejected: list[Message] = []
        for reader in self._readers:
            messages = list(reader.read(data))
            if any(message.is_valid for message in messages):
                self._readers = [reader]
                _LOGGER.debug("Stream format detected: %s", type(reader).__name__)
                return rejected + messages
            rejected.extend(messages)
        return rejected


@dataclass(slots=True)
class ProtocolCounters:
    """Running totals of one connection."""

    messages: int = 0
    invalid_messages: int = 0
    dropped_messages: int = 0
    bytes_received: int = 0


class SmartMeterMessageProtocol(asyncio.Protocol):
    """Puts every valid message (HdlcFrame or DataReadout) on a queue.

    The queue may be bounded: when it is full the oldest item is dropped (and
    counted) to make room, so a slow consumer always sees the newest readings.
    Invalid messages are counted; the first few are logged, then at most one
    summary line per ``invalid_log_interval`` seconds.
    Must be created while the event loop runs (connection factories do that).
    """

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        readers: Sequence[Reader] | None = None,
        *,
        invalid_log_first: int = DEFAULT_INVALID_LOG_FIRST,
        invalid_log_interval: float = DEFAULT_INVALID_LOG_INTERVAL,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = queue
        self._selector = ReaderSelector(readers)
        self._invalid_log_first = invalid_log_first
        self._invalid_log_interval = invalid_log_interval
        self._invalid_unlogged = 0
        self._invalid_summary_time: float | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.connection_error: Exception | None = None
        self.counters = ProtocolCounters()
        self.last_message_time: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        self.transport = transport
        _LOGGER.debug("Connection made: %s", type(transport).__name__)

    def connection_lost(self, exc: Exception | None) -> None:
        """Resolve ``done`` (with None: the cause is kept in ``connection_error``)."""
        self.transport = None
        if self.done.done():
            return
        self.connection_error = exc
        if self._invalid_unlogged:
            self._log_invalid_summary()
        _LOGGER.debug("Connection lost: %s", exc)
        self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Feed the readers and queue what they complete."""
        self.counters.bytes_received += len(data)
        for message in self._selector.read(data):
            if message.is_valid:
                self.counters.messages += 1
                self.last_message_time = self._loop.time()
                item = self._queue_item(message)
                if item is not None:
                    self._put(item)
            else:
                self._invalid(message)

    def _queue_item(self, message: Message) -> Any:
        """What goes on the queue for a valid message (None: nothing)."""
        return message

    def _put(self, item: Any) -> None:
        queue = self._queue
        if queue.full():
            queue.get_nowait()
            queue.task_done()
            self.counters.dropped_messages += 1
        queue.put_nowait(item)

    def _invalid(self, message: Message) -> None:
        self.counters.invalid_messages += 1
        if self.counters.invalid_messages <= self._invalid_log_first:
            raw = message.as_bytes
            _LOGGER.warning(
                "Invalid message from the meter (%d bytes, starts %s)",
                len(raw),
                raw[:16].hex(),
            )
            return
        self._invalid_unlogged += 1
        now = self._loop.time()
        if self._invalid_summary_time is None:
            self._invalid_summary_time = now
        elif now - self._invalid_summary_time >= self._invalid_log_interval:
            self._log_invalid_summary()

    def _log_invalid_summary(self) -> None:
        _LOGGER.info(
            "%d more invalid messages from the meter (%d in total)",
            self._invalid_unlogged,
            self.counters.invalid_messages,
        )
        self._invalid_unlogged = 0
        self._invalid_summary_time = self._loop.time()


class SmartMeterMessagePayloadProtocol(SmartMeterMessageProtocol):
    """Puts the payload bytes of every valid, non-empty message on the queue."""

    def _queue_item(self, message: Message) -> Any:
        return message.payload or None
