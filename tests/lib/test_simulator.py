"""The meter simulator: its stream decodes with the library and is self-consistent."""

from __future__ import annotations

import asyncio
import itertools
import math
import socket
import struct
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_meter.amshan import simulator as simulator_module
from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.meter_connection import ReaderSelector
from custom_components.han_meter.amshan.meter_model import MeterModel
from custom_components.han_meter.amshan.simulator import (
    MeterSimulator,
    SentFrame,
    SimulatorConfig,
)

OSLO = ZoneInfo("Europe/Oslo")
START = datetime(2024, 1, 15, 0, 59, 50, tzinfo=OSLO)


def simulator(**options: Any) -> MeterSimulator:
    settings: dict[str, Any] = {"port": 0, "start": START, "speed": 1000.0}
    settings.update(options)
    return MeterSimulator(SimulatorConfig(**settings))


def decode(data: bytes) -> list[dict[str, Any]]:
    decoder = AutoDecoder()
    readings = []
    for message in ReaderSelector().read(data):
        assert message.is_valid
        reading = decoder.decode_message(message)
        assert reading is not None
        readings.append(reading)
    return readings


class Client:
    """Reads the simulator's stream over TCP and decodes it as it comes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.selector = ReaderSelector()
        self.decoder = AutoDecoder()
        self.readings: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.invalid = 0
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def read_until(self, condition: Any, limit: float = 20.0) -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(limit):
            while not condition(self):
                data = await self.reader.read(65536)
                if not data:
                    self.eof = True
                    return
                for message in self.selector.read(data):
                    if not message.is_valid:
                        self.invalid += 1
                        continue
                    reading = self.decoder.decode_message(message)
                    assert reading is not None
                    self.readings.append(reading)
                    self.arrivals.append(loop.time())

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def wait_until(condition: Any, limit: float = 20.0) -> None:
    """Poll ``condition`` (a plain predicate: nothing to await on) until it holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def test_config_is_checked() -> None:
    for options, message in (
        ({"meter": "elster"}, "meter must be"),
        ({"phases": 2}, "phases"),
        ({"speed": 0}, "speed"),
        ({"speed": math.inf}, "speed"),
        ({"garbage_rate": 1.5}, "garbage"),
        ({"drop_after": 0}, "drop-after"),
        ({"go_silent_after": 0}, "go-silent-after"),
    ):
        with pytest.raises(ValueError, match=message):
            SimulatorConfig(**options)


def test_model_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="phases"):
        MeterModel(phases=2)
    with pytest.raises(ValueError, match="aware"):
        MeterModel(start=datetime(2024, 1, 1))


def test_model_energy_is_the_integral_of_power() -> None:
    model = MeterModel(seed=7, start=START)
    assert model.energy(START) == model.values(START)["active_power_import_total"]
    step = timedelta(seconds=2.5)  # the knots (every 10 s) are on this grid
    integral, when = 0.0, START
    for _ in range(1440):  # one hour
        integral += (model.power(when) + model.power(when + step)) / 2 * 2.5 / 3600
        when += step
    assert model.energy(when) - model.energy(START) == pytest.approx(integral, abs=1e-6)
    # the same from a fresh model that is asked out of order
    other = MeterModel(seed=7, start=START)
    assert other.energy(when) == pytest.approx(model.energy(when), abs=1e-6)
    assert other.energy(START - timedelta(hours=1)) < other.energy(START)
    half_day = START + timedelta(hours=12)  # more knots than the model keeps in its cache
    assert other.energy(half_day) == pytest.approx(MeterModel(seed=7, start=START).energy(half_day))


def test_model_is_deterministic_and_seeded() -> None:
    a = MeterModel(seed=1, start=START)
    b = MeterModel(seed=1, start=START)
    c = MeterModel(seed=2, start=START)
    when = START + timedelta(minutes=17, seconds=3)
    assert a.values(when) == b.values(when)
    assert a.values(when) != c.values(when)
    powers = [a.power(START + timedelta(seconds=s)) for s in range(0, 600, 5)]
    assert all(100 < p < 10_000 for p in powers)
    steps = [abs(q - p) / p for p, q in itertools.pairwise(powers)]
    assert max(steps) < 0.15  # smooth: no jumps between 5 s samples


def test_model_phases_are_consistent_with_power() -> None:
    model = MeterModel(seed=3, start=START)
    values = model.values(START + timedelta(minutes=3))
    apparent = sum(values[f"voltage_l{p}"] * values[f"current_l{p}"] for p in (1, 2, 3))
    power = values["active_power_import"]
    assert apparent * model.power_factor == pytest.approx(power)
    assert sum(values[f"active_power_import_l{p}"] for p in (1, 2, 3)) == pytest.approx(power)
    single = MeterModel(seed=3, phases=1, start=START).values(START)
    assert "current_l2" not in single
    assert single["voltage_l1"] * single["current_l1"] * model.power_factor == pytest.approx(
        single["active_power_import"]
    )


@pytest.mark.parametrize(
    ("meter", "when", "expected"),
    [
        ("kaifa", "01:00:00", "list3"),
        ("kaifa", "01:00:10", "list2"),
        ("kaifa", "01:00:12.5", "list1"),
        ("aidon", "01:00:02.5", "list1"),
        ("kamstrup", "01:00:10", "list2"),
        ("kamstrup", "02:00:00", "list3"),
        ("p1", "01:00:10", "p1"),
    ],
)
def test_lists_follow_the_real_cadence(meter: str, when: str, expected: str) -> None:
    sim = simulator(meter=meter)
    at = datetime.fromisoformat(f"2024-01-15T{when}").replace(tzinfo=OSLO)
    frame = sim.message_at(at)
    assert frame.list_name == expected
    reading = decode(frame.data)[0]
    if expected == "list1":
        assert set(reading) >= {"active_power_import"}
        assert "voltage_l1" not in reading
    else:
        assert reading["voltage_l3"] > 200
    if expected in ("list3", "p1"):
        assert reading["active_power_import_total"] > 1_000_000
        assert reading["meter_datetime"].replace(tzinfo=None) == at.replace(tzinfo=None)


def test_schedule_per_meter() -> None:
    assert simulator(meter="aidon").schedule() == (2.5, 4)
    assert simulator(meter="kamstrup").schedule() == (10.0, 1)
    assert simulator(meter="p1").schedule() == (10.0, 1)


def test_same_seed_same_stream() -> None:
    when = START + timedelta(seconds=10)
    frame_a = simulator(seed=5).message_at(when)
    assert frame_a == simulator(seed=5).message_at(when)
    assert frame_a.data != simulator(seed=6).message_at(when).data
    naive = MeterSimulator(SimulatorConfig(start=START.replace(tzinfo=None)))
    assert naive.start_time == START


async def test_stream_decodes_and_energy_matches_power(socket_enabled: None) -> None:
    """Two simulated hours at 7200x: the hourly energy step equals the power integral."""
    start = datetime(2024, 1, 15, 0, 59, 50, tzinfo=OSLO)
    async with simulator(start=start, speed=7200.0, seed=11) as sim:
        client = await Client.connect(sim.port)
        hourly = lambda c: sum("active_power_import_total" in r for r in c.readings)  # noqa: E731
        await client.read_until(lambda c: hourly(c) >= 2, limit=40)
        await client.close()
    assert client.invalid == 0
    readings = client.readings
    hours = [i for i, r in enumerate(readings) if "active_power_import_total" in r]
    first, second = hours[0], hours[1]
    assert readings[first]["meter_datetime"].replace(tzinfo=None) == datetime(2024, 1, 15, 1)
    assert readings[second]["meter_datetime"].replace(tzinfo=None) == datetime(2024, 1, 15, 2)
    assert second - first == 1440  # one message every 2.5 s for an hour
    powers = [r["active_power_import"] for r in readings[first : second + 1]]
    integral = sum((a + b) / 2 * 2.5 / 3600 for a, b in itertools.pairwise(powers))
    step = (
        readings[second]["active_power_import_total"] - readings[first]["active_power_import_total"]
    )
    assert step == pytest.approx(integral, abs=2.0)  # Wh: register and power rounding
    list2 = [r for r in readings if "voltage_l1" in r]
    assert len(list2) >= 360  # every 10 s
    for reading in list2[:50]:
        apparent = sum(reading[f"voltage_l{p}"] * reading[f"current_l{p}"] for p in (1, 2, 3))
        assert apparent * sim.model.power_factor == pytest.approx(
            reading["active_power_import"], rel=0.01, abs=2
        )
    frame: SentFrame = sim.frames[0]
    assert frame.time >= start
    assert sim.generated >= second + 1


async def test_real_cadence_with_speed(socket_enabled: None) -> None:
    async with simulator(meter="kaifa", speed=10.0) as sim:
        client = await Client.connect(sim.port)
        await client.read_until(lambda c: len(c.readings) >= 6)
        await client.close()
    gaps = [b - a for a, b in itertools.pairwise(client.arrivals)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, abs=0.06)
    clocks = [f.time for f in sim.frames]
    assert {b - a for a, b in itertools.pairwise(clocks)} == {timedelta(seconds=2.5)}


@pytest.mark.parametrize(("meter", "phases"), [("aidon", 1), ("kamstrup", 3), ("p1", 3)])
async def test_every_meter_streams(socket_enabled: None, meter: str, phases: int) -> None:
    async with simulator(meter=meter, phases=phases, speed=2000.0) as sim:
        client = await Client.connect(sim.port)
        await client.read_until(lambda c: len(c.readings) >= 10)
        await client.close()
    full = [r for r in client.readings if "voltage_l1" in r]
    assert full
    assert all(("voltage_l3" in r) == (phases == 3) for r in full)
    if meter == "p1":
        assert all("active_power_import_total" in r for r in client.readings)


async def test_faults_drop_silence_garbage(socket_enabled: None) -> None:
    async with simulator(speed=500.0, drop_after=5) as sim:
        client = await Client.connect(sim.port)
        await client.read_until(lambda c: False)
        assert client.eof
        assert len(client.readings) == 5
        await client.close()

    async with simulator(speed=500.0, go_silent_after=3) as sim:
        client = await Client.connect(sim.port)
        await client.read_until(lambda c: len(c.readings) >= 3)
        generated = sim.generated
        await sim.wait_generated(generated + 10)
        with pytest.raises(TimeoutError):
            await client.read_until(lambda c: False, limit=0.1)
        assert not client.eof  # silent, socket open
        assert len(client.readings) == 3
        assert sim.clients == 1
        await client.close()

    async with simulator(speed=500.0, garbage_rate=0.8, seed=4) as sim:
        client = await Client.connect(sim.port)
        await client.read_until(lambda c: len(c.readings) >= 40)
        await client.close()
    assert client.invalid == 0
    assert len(client.readings) >= 40
    assert getattr(client.selector.selected, "discarded_bytes", 0) > 0


async def test_clients_are_served_concurrently(socket_enabled: None) -> None:
    async with simulator(speed=500.0) as sim:
        first = await Client.connect(sim.port)
        second = await Client.connect(sim.port)
        first.writer.write(b"a meter ignores what it is sent")
        await asyncio.gather(
            first.read_until(lambda c: len(c.readings) >= 5),
            second.read_until(lambda c: len(c.readings) >= 5),
        )
        assert sim.clients == 2
        assert sim.connections == 2
        await first.close()
        await second.read_until(lambda c: len(c.readings) >= 10)
        await second.close()
    assert sim.sent >= 15
    assert sim.clients == 0


async def test_port_in_use_and_stop_twice(socket_enabled: None) -> None:
    async with simulator() as sim:
        await sim.start()  # already started: nothing happens
        other = simulator(port=sim.port)
        with pytest.raises(OSError, match="in use"):
            await other.start()
    await sim.stop()
    assert sim.port == 0  # the configured port once stopped


async def test_binds_to_localhost_by_default(socket_enabled: None) -> None:
    sim = MeterSimulator(SimulatorConfig(port=0))
    assert sim.config.host == "127.0.0.1"
    await sim.start()
    try:
        assert sim.port != 0
        server = sim._server
        assert server is not None
        assert {s.getsockname()[0] for s in server.sockets} == {"127.0.0.1"}
    finally:
        await sim.stop()


async def test_slow_client_is_dropped(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulator_module, "MAX_CLIENT_BUFFER", 20_000)
    async with simulator(speed=1e5) as sim:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", sim.port))
        _, writer = await asyncio.open_connection(sock=sock)
        writer.transport.pause_reading()  # never reads: the simulator's buffer fills
        await wait_until(lambda: sim.clients)
        server_side = sim._clients[0].writer.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        await wait_until(lambda: not sim.clients)
        writer.close()
        await writer.wait_closed()


async def test_client_reset_is_handled(socket_enabled: None) -> None:
    async with simulator(speed=100.0) as sim:
        sock = socket.socket()
        sock.connect(("127.0.0.1", sim.port))
        await wait_until(lambda: sim.clients)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST instead of FIN
        await wait_until(lambda: not sim.clients)
