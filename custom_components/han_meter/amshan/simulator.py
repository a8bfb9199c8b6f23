"""A meter behind a network bridge: a TCP server that streams realistic frames.

Every client gets the same stream from the moment it connects, like a HAN-to-TCP
bridge. Norwegian HDLC meters (Aidon, Kaifa) send list 1 (power) every 2.5 s,
list 2 (all instantaneous values) every 10 s and list 3 (with the energy
registers and the clock) on the hour, instead of list 2; Kamstrup has no power-only
list and sends its 10 s list and its hourly list; a P1 meter sends a full readout
every 10 s. ``speed`` makes the simulated clock (and the cadence) run faster.

With an encryption key the HDLC meters encrypt every APDU (general-glo-ciphering, system
title ``HANSIM01``, the invocation counter going up by one per message; security control
0x30 with an authentication key, else 0x20), inside the same HDLC frames, as Danish
Kamstrup and Austrian meters do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .builder import LLC_HEADER, build_hdlc_frame, build_meter_frame, build_p1_readout
from .builder_security import encrypt_apdu
from .hdlc import HdlcFrameReader
from .meter_model import MeterModel
from .security import check_key

_LOGGER = logging.getLogger(__name__)

METERS = ("aidon", "kaifa", "kamstrup", "p1")
GARBAGE_BYTES = bytes(b for b in range(256) if b not in b"\x7e/!")  # never a frame start
MAX_CLIENT_BUFFER = 1 << 20
INSTANT_KEYS = (
    "active_power_import",
    "active_power_export",
    "reactive_power_import",
    "reactive_power_export",
)
ENERGY_KEYS = tuple(f"{key}_total" for key in INSTANT_KEYS)
P1_PHASE_KEYS = ("voltage", "current", "active_power_import")
SYSTEM_TITLE = b"HANSIM01"


@dataclass(slots=True, frozen=True)
class SimulatorConfig:
    """What to simulate and how."""

    meter: str = "kaifa"
    host: str = "127.0.0.1"
    port: int = 3001  # 0: any free port (see MeterSimulator.port)
    seed: int = 0
    phases: int = 3
    speed: float = 1.0
    start: datetime | None = None  # meter clock at start (aware); default: now
    timezone: str = "Europe/Oslo"
    drop_after: int | None = None  # close each client after this many frames
    garbage_rate: float = 0.0  # probability of garbage bytes before a frame
    go_silent_after: int | None = None  # stop sending to a client (socket kept open)
    encryption_key: bytes | None = field(default=None, repr=False)  # 16 bytes: encrypt
    authentication_key: bytes | None = field(default=None, repr=False)  # 16 bytes: SC 0x30

    def __post_init__(self) -> None:
        if self.meter not in METERS:
            raise ValueError(f"meter must be one of {', '.join(METERS)}")
        if self.phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        if not self.speed > 0 or not math.isfinite(self.speed):
            raise ValueError("speed must be a positive number")
        if not 0 <= self.garbage_rate <= 1:
            raise ValueError("garbage rate must be between 0 and 1")
        for name in ("drop_after", "go_silent_after"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.encryption_key is not None:
            check_key(self.encryption_key)
            if self.meter == "p1":
                raise ValueError("encryption is simulated for the HDLC meters only")
        if self.authentication_key is not None:
            check_key(self.authentication_key, "authentication key")
            if self.encryption_key is None:
                raise ValueError("an authentication key needs an encryption key")


@dataclass(slots=True, frozen=True)
class SentFrame:
    """One message the meter produced (sent to every client connected then)."""

    time: datetime  # the meter clock
    list_name: str  # "list1", "list2", "list3" or "p1"
    values: Mapping[str, Any]
    data: bytes


@dataclass(slots=True)
class _Client:
    writer: asyncio.StreamWriter
    frames: int = 0
    silent: bool = False


class MeterSimulator:
    """The simulated meter and its TCP server: ``await start()``, ``await stop()``."""

    def __init__(self, config: SimulatorConfig | None = None, *, log_size: int = 10_000) -> None:
        self.config = config or SimulatorConfig()
        zone = ZoneInfo(self.config.timezone)
        start = self.config.start or datetime.now(zone)
        if start.utcoffset() is None:
            start = start.replace(tzinfo=zone)
        self.start_time = start.astimezone(zone)
        self.model = MeterModel(
            seed=self.config.seed, phases=self.config.phases, start=self.start_time
        )
        self.frames: deque[SentFrame] = deque(maxlen=log_size)
        self.generated = 0  # messages produced
        self.sent = 0  # messages written to clients (one per client)
        self.connections = 0  # clients accepted so far
        self._rng = random.Random(f"{self.config.seed}/garbage")
        self._clients: list[_Client] = []
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._new_frame = asyncio.Condition()

    @property
    def port(self) -> int:
        """The port listened on (the real one when the config asked for 0)."""
        if self._server is None or not self._server.sockets:
            return self.config.port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def clients(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    async def start(self) -> None:
        """Listen and start the meter clock. Raises OSError when the port is taken."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, self.config.host, self.config.port, reuse_address=True
        )
        self._task = asyncio.create_task(self._run(), name="meter simulator")

    async def stop(self) -> None:
        """Close every client and the server; returns when all is gone."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            server.abort_clients()  # a client that does not read must not hold us up
            await server.wait_closed()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    async def __aenter__(self) -> MeterSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_generated(self, count: int) -> None:
        """Wait until the meter has produced ``count`` messages in all."""
        async with self._new_frame:
            await self._new_frame.wait_for(lambda: self.generated >= count)

    def schedule(self) -> tuple[float, int]:
        """(interval in simulated seconds, how many intervals make the full list)."""
        if self.config.meter in ("aidon", "kaifa"):
            return 2.5, 4
        return 10.0, 1

    def message_at(self, when: datetime) -> SentFrame:
        """The message the meter sends at ``when`` (a time on its schedule)."""
        meter = self.config.meter
        values = self.model.values(when)
        phases = range(1, self.config.phases + 1)
        if meter == "p1":
            keys = [*INSTANT_KEYS, *ENERGY_KEYS]
            keys += [f"{key}_l{phase}" for key in P1_PHASE_KEYS for phase in phases]
            readout = {key: round(values[key], 1) for key in keys}
            return SentFrame(when, "p1", readout, build_p1_readout(readout, timestamp=when))
        interval, full = self.schedule()
        step = round(when.timestamp() / interval)
        if when.minute == 0 and when.second == 0 and when.microsecond == 0:
            name, keys = "list3", [*INSTANT_KEYS, *ENERGY_KEYS]
        elif step % full == 0:
            name, keys = "list2", list(INSTANT_KEYS)
        else:
            name, keys = "list1", ["active_power_import"]
        if name != "list1":
            keys += [f"{key}_l{phase}" for key in ("current", "voltage") for phase in phases]
        chosen: dict[str, Any] = {key: values[key] for key in keys}
        clock = when.replace(microsecond=0)  # meters send whole seconds
        if name == "list3":
            chosen["meter_datetime"] = clock
        data = build_meter_frame(meter, chosen, timestamp=clock)
        if self.config.encryption_key is not None:
            data = self._encrypt(data, step)
        return SentFrame(when, name, chosen, data)

    def _encrypt(self, frame: bytes, invocation_counter: int) -> bytes:
        """The frame with its APDU encrypted (the message number is the counter)."""
        key = self.config.encryption_key
        assert key is not None
        (plain,) = HdlcFrameReader().read(frame)
        header = plain.header
        assert header is not None  # the builder's own frame
        auth_key = self.config.authentication_key
        ciphered = encrypt_apdu(
            plain.payload[len(LLC_HEADER) :],
            SYSTEM_TITLE,
            invocation_counter & 0xFFFFFFFF,
            key,
            auth_key,
            0x20 if auth_key is None else 0x30,
        )
        return build_hdlc_frame(
            LLC_HEADER + ciphered,
            destination=header.destination_address,
            source=header.source_address,
            control=header.control,
        )

    def _first_time(self) -> datetime:
        interval, _ = self.schedule()
        seconds = math.ceil(self.start_time.timestamp() / interval) * interval
        return datetime.fromtimestamp(seconds, self.start_time.tzinfo)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval, _ = self.schedule()
        first = self._first_time()
        real_start = loop.time() + (first - self.start_time).total_seconds() / self.config.speed
        index = 0
        while True:
            delay = real_start + index * interval / self.config.speed - loop.time()
            await asyncio.sleep(max(delay, 0))  # always yield, even when behind
            when = first + timedelta(seconds=index * interval)
            frame = self.message_at(when)
            index += 1
            self.frames.append(frame)
            self.generated += 1
            self._broadcast(frame.data)
            async with self._new_frame:
                self._new_frame.notify_all()

    def _broadcast(self, data: bytes) -> None:
        garbage = b""
        if self.config.garbage_rate and self._rng.random() < self.config.garbage_rate:
            garbage = bytes(self._rng.choices(GARBAGE_BYTES, k=self._rng.randint(1, 40)))
        for client in list(self._clients):
            writer = client.writer
            if client.silent or writer.is_closing():
                continue
            if writer.transport.get_write_buffer_size() > MAX_CLIENT_BUFFER:
                _LOGGER.warning("Simulator: client does not read, dropping it")
                writer.transport.abort()
                continue
            writer.write(garbage + data)
            client.frames += 1
            self.sent += 1
            if self.config.drop_after is not None and client.frames >= self.config.drop_after:
                _LOGGER.info("Simulator: dropping a client after %d frames", client.frames)
                writer.close()
            elif (
                self.config.go_silent_after is not None
                and client.frames >= self.config.go_silent_after
            ):
                _LOGGER.info("Simulator: going silent after %d frames", client.frames)
                client.silent = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self._clients.append(client)
        task = asyncio.current_task()
        assert task is not None  # asyncio runs each client handler in a task
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        self.connections += 1
        _LOGGER.info("Simulator: client %s connected", writer.get_extra_info("peername"))
        try:
            while await reader.read(4096):
                pass  # a meter ignores what it is sent
        except OSError:
            pass
        finally:
            self._clients.remove(client)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            _LOGGER.info("Simulator: client disconnected")
