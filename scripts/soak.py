"""Soak: a week of meter data through a real Home Assistant core, with faults.

A Home Assistant core runs in this process (the test harness's
``async_test_home_assistant``, a temporary config directory) with the integration
reading a simulated Kaifa meter over TCP on 127.0.0.1. The meter runs in a second
process (so it does not share the event loop or the interpreter lock) and sends the
messages of ``--days`` days as fast as Home Assistant takes them: the real schedule of
lists 1, 2 and 3 (every 2.5 s, every 10 s, on the hour), at most ``--window`` messages
in flight, so the integration's queue never overflows. Every ``--fault-hours`` simulated
hours it injects a fault, in turn: the connection closed in the middle of a frame,
4 KiB of random garbage, silence until the watchdog reopens the connection, a reset
(RST). While the link is down the meter's clock runs at real speed, as a real meter's
would, and the messages of that time are counted as not sent.

It prints messages sent, decoded and published (every decoded message must be published
with the value the meter sent), the messages not sent during outages, RSS at start and
end, event-loop lag percentiles, and log lines per simulated day.

Usage: scripts/soak [--days 7] [--fault-hours 3] [--window 32] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import math
import multiprocessing
import random
import socket
import statistics
import struct
import sys
import tempfile
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INTERVAL = 2.5  # seconds between two messages of the meter
FAULTS = ("drop", "garbage", "silence", "reset")
START = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)  # a Monday; no DST change within a week
LAG_TICK = 0.05  # seconds between two event-loop lag samples
WAIT_LIMIT = 60.0  # seconds the meter waits for Home Assistant before it reports a stall


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


# The meter (its own process)


class _Meter:
    """Sends the schedule over one TCP listener; reconnects are accepted as they come."""

    def __init__(self, args: argparse.Namespace, handled: Any, clock: Any) -> None:
        from custom_components.han_meter.amshan.autodecoder import AutoDecoder
        from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
        from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig

        self.args = args
        self.handled = handled  # messages Home Assistant decoded (written by it)
        self.clock = clock  # index of the message being sent (read by Home Assistant)
        config = SimulatorConfig(meter="kaifa", seed=args.seed, start=START, timezone="UTC")
        self.simulator = MeterSimulator(config, log_size=1)
        self.reference = AutoDecoder()  # decodes what is sent, for the expected values
        self.reader = HdlcFrameReader()
        self.rng = random.Random(args.seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT_LIMIT)
        self.port = self.listener.getsockname()[1]
        self.sock: socket.socket | None = None
        self.sent = 0  # whole messages written
        self.destroyed = 0  # messages cut in half by a fault
        self.not_sent: Counter[str] = Counter()  # messages of outage time, by fault
        self.outage_seconds: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.lists: Counter[str] = Counter()
        self.garbage_bytes = 0
        self.stalls = 0
        self.expected = array("d")  # active power of every message sent, in order

    def accept(self) -> None:
        """Take the next connection (a silent one stays open until the client gives up)."""
        sock, _ = self.listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.sock is not None:
            self.sock.close()
        self.sock = sock

    def wait_in_flight(self, limit: int) -> None:
        """Until at most ``limit`` messages are sent but not yet decoded."""
        deadline = time.monotonic() + WAIT_LIMIT
        while self.sent - self.handled.value > limit:
            if time.monotonic() > deadline:
                self.stalls += 1
                return
            time.sleep(0.0002)

    def send(self, index: int) -> int:
        """Send message ``index``; returns how many messages that took (more after a loss)."""
        when = START + timedelta(seconds=index * INTERVAL)
        frame = self.simulator.message_at(when)
        self.lists[frame.list_name] += 1
        self.wait_in_flight(self.args.window - 1)
        assert self.sock is not None
        try:
            self.sock.sendall(frame.data)
        except OSError:  # Home Assistant closed the connection (it should not)
            self.faults["unexpected disconnect"] += 1
            self.destroyed += 1
            return 1 + self.reconnect_after(index, "unexpected disconnect")
        self.sent += 1
        (message,) = self.reader.read(frame.data)
        reading = self.reference.decode_message(message)
        self.expected.append(float((reading or {}).get("active_power_import", -1)))
        return 1

    def reconnect_after(self, index: int, fault: str) -> int:
        """Wait for the integration to reconnect; the messages of that time are not sent."""
        start = time.monotonic()
        self.accept()
        outage = time.monotonic() - start
        skipped = round(outage / INTERVAL)
        self.outage_seconds[fault] += outage
        self.not_sent[fault] += skipped
        return skipped

    def fault(self, index: int, kind: str) -> int:
        """Inject a fault before message ``index``; returns how many messages it skips."""
        self.faults[kind] += 1
        self.wait_in_flight(0)
        assert self.sock is not None
        if kind == "garbage":
            garbage = self.rng.randbytes(4096)
            self.sock.sendall(garbage)
            self.garbage_bytes += len(garbage)
            return 0
        if kind in ("drop", "reset"):
            frame = self.simulator.message_at(START + timedelta(seconds=index * INTERVAL))
            self.sock.sendall(frame.data[: len(frame.data) // 2])
            self.destroyed += 1
            if kind == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
            self.sock = None
            return 1 + self.reconnect_after(index, kind)
        return self.reconnect_after(index, kind)  # silence: the watchdog reconnects

    def run(self) -> dict[str, Any]:
        total = round(self.args.days * 86400 / INTERVAL)
        fault_every = round(self.args.fault_hours * 3600 / INTERVAL)
        start = time.monotonic()
        self.accept()
        index = 0
        faults = 0
        next_fault = fault_every or total
        while index < total:
            self.clock.value = index
            if index >= next_fault:
                next_fault += fault_every
                index += self.fault(index, FAULTS[faults % len(FAULTS)])
                faults += 1
                continue
            index += self.send(index)
        self.clock.value = total
        self.wait_in_flight(0)
        duration = time.monotonic() - start
        # Then a while at a meter-like pace, for the event-loop lag of normal operation.
        paced = round(self.args.paced_seconds * self.args.paced_rate)
        for offset in range(paced):
            time.sleep(1 / self.args.paced_rate)
            self.clock.value = total + offset
            self.send(total + offset)
        self.wait_in_flight(0)
        if self.sock is not None:
            self.sock.close()
        self.listener.close()
        return {
            "generated": total,
            "sent": self.sent,
            "destroyed_by_faults": self.destroyed,
            "not_sent_during_outages": dict(self.not_sent),
            "outage_seconds": {k: round(v, 2) for k, v in self.outage_seconds.items()},
            "faults": dict(self.faults),
            "lists": dict(self.lists),
            "garbage_bytes": self.garbage_bytes,
            "stalls": self.stalls,
            "seconds": duration,
            "paced_messages": paced,
            "expected": self.expected.tobytes(),
        }


def _meter_process(args: argparse.Namespace, handled: Any, clock: Any, pipe: Connection) -> None:
    meter = _Meter(args, handled, clock)
    pipe.send(("port", meter.port))
    try:
        pipe.send(("done", meter.run()))
    except Exception as err:  # reported by the parent
        pipe.send(("error", f"{type(err).__name__}: {err}"))


# Home Assistant (this process)


class _LogCounter(logging.Handler):
    """Counts log records per simulated day and level."""

    def __init__(self, clock: Any) -> None:
        super().__init__(logging.INFO)
        self.clock = clock
        self.by_day: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        day = int(self.clock.value * INTERVAL // 86400)
        level = "warning+" if record.levelno >= logging.WARNING else "info"
        self.by_day[day][level] += 1
        if record.levelno >= logging.WARNING or record.name.startswith("custom_components"):
            self.messages[f"{record.levelname} {record.name}: {record.getMessage()[:90]}"] += 1


async def _lag_ticker(
    samples: list[float], paced: list[float], clock: Any, paced_from: int
) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + LAG_TICK
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        now = loop.time()
        (paced if clock.value >= paced_from else samples).append(now - due)
        due = now + LAG_TICK


async def _rss_sampler(clock: Any, samples: dict[int, float]) -> None:
    while True:
        day = int(clock.value * INTERVAL // 86400)
        samples[day] = max(samples.get(day, 0.0), _rss_mib())
        await asyncio.sleep(1.0)


def _meter_id(args: argparse.Namespace) -> tuple[str, str]:
    """Meter id and type the simulated Kaifa sends in list 2."""
    from custom_components.han_meter.amshan.autodecoder import AutoDecoder
    from custom_components.han_meter.amshan.hdlc import HdlcFrameReader
    from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig

    simulator = MeterSimulator(
        SimulatorConfig(meter="kaifa", seed=args.seed, start=START, timezone="UTC")
    )
    frame = next(
        frame
        for index in range(1, 9)
        if (frame := simulator.message_at(START + timedelta(seconds=index * INTERVAL))).list_name
        == "list2"
    )
    (message,) = HdlcFrameReader().read(frame.data)
    reading = AutoDecoder().decode_message(message) or {}
    return str(reading["meter_id"]), str(reading.get("meter_type", ""))


async def _soak(args: argparse.Namespace) -> dict[str, Any]:
    from homeassistant import loader
    from homeassistant.const import (
        CONF_HOST,
        CONF_PORT,
        EVENT_STATE_CHANGED,
        EVENT_STATE_REPORTED,
        STATE_UNAVAILABLE,
        STATE_UNKNOWN,
    )
    from homeassistant.core import Event, callback
    from homeassistant.helpers import entity_registry as er
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
        async_test_home_assistant,
    )

    from custom_components.han_meter import const

    context = multiprocessing.get_context("spawn")
    handled: Synchronized[int] = context.Value("q", 0, lock=False)  # type: ignore[assignment]
    clock: Synchronized[int] = context.Value("q", 0, lock=False)  # type: ignore[assignment]
    parent_pipe, child_pipe = context.Pipe()
    meter_id, meter_type = _meter_id(args)
    process = context.Process(
        target=_meter_process, args=(args, handled, clock, child_pipe), name="soak meter"
    )
    process.start()
    kind, port = parent_pipe.recv()
    assert kind == "port", port

    counter = _LogCounter(clock)
    root = logging.getLogger()
    root.addHandler(counter)
    logging.getLogger("custom_components.han_meter").setLevel(logging.INFO)

    lag: list[float] = []
    paced_lag: list[float] = []
    rss_by_day: dict[int, float] = {}
    published = array("d")
    energy: list[float] = []
    writes: Counter[str] = Counter()
    decoded = 0
    decoded_powers = array("d")
    early = array("b")  # decoded before the connection was reported up

    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            entry = MockConfigEntry(
                domain=const.DOMAIN,
                title=f"Kaifa {meter_type}".strip(),
                unique_id=meter_id,
                data={
                    const.CONF_TRANSPORT: const.TRANSPORT_NETWORK,
                    CONF_HOST: "127.0.0.1",
                    CONF_PORT: port,
                    const.CONF_METER_MANUFACTURER: "Kaifa",
                    const.CONF_METER_TYPE: meter_type,
                },
                options={const.CONF_WATCHDOG_TIMEOUT: args.watchdog},
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            coordinator = entry.runtime_data

            @callback
            def _count(reading: Any, _when: datetime) -> None:
                nonlocal decoded
                decoded += 1
                handled.value = decoded
                decoded_powers.append(float(reading.get("active_power_import", -1)))
                early.append(coordinator.connection_state != "connected")

            coordinator.async_add_reading_listener(_count)
            registry = er.async_get(hass)
            ids: dict[str, str] = {}

            def _entity(key: str) -> str | None:
                if key not in ids:
                    entity_id = registry.async_get_entity_id(
                        "sensor", const.DOMAIN, f"{meter_id}-{key}"
                    )
                    if entity_id is None:
                        return None
                    ids[key] = entity_id
                return ids[key]

            @callback
            def _filter(data: Any) -> bool:
                return data["entity_id"] in (
                    _entity("active_power_import"),
                    _entity("active_power_import_total"),
                )

            @callback
            def _written(event: Event[Any]) -> None:
                state = event.data["new_state"]
                if state is None:
                    return
                writes[event.event_type] += 1
                if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
                    writes[state.state] += 1
                    return
                if event.data["entity_id"] == ids.get("active_power_import"):
                    published.append(float(state.state))
                elif event.event_type == EVENT_STATE_CHANGED:
                    energy.append(float(state.state))

            for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
                hass.bus.async_listen(event_type, _written, event_filter=_filter)
            tasks = [
                asyncio.create_task(
                    _lag_ticker(lag, paced_lag, clock, round(args.days * 86400 / INTERVAL))
                ),
                asyncio.create_task(_rss_sampler(clock, rss_by_day)),
            ]
            rss_start = _rss_mib()
            types_start = _type_counts()
            wall_start = time.monotonic()
            loop = asyncio.get_running_loop()
            message = await loop.run_in_executor(None, parent_pipe.recv)
            wall = time.monotonic() - wall_start
            await hass.async_block_till_done()
            rss_end = _rss_mib()
            types_end = _type_counts()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            counters = {
                "coordinator": {
                    name: getattr(coordinator.counters, name)
                    for name in ("messages", "decoded", "decode_failures", "energy_backwards")
                },
                "reconnects": coordinator.counters.reconnects,
                "protocol": coordinator.async_protocol_counters(),
                "manager": dataclasses.asdict(coordinator.manager.counters)
                if coordinator.manager is not None
                else {},
            }
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)
    process.join(30)
    root.removeHandler(counter)
    if message[0] != "done":
        raise RuntimeError(f"the meter process failed: {message[1]}")
    meter = message[1]
    expected = array("d")
    expected.frombytes(meter.pop("expected"))
    unshown, matched = _not_shown(decoded_powers, published)
    return {
        "meter": meter,
        "home_assistant": counters,
        "decoded_readings": decoded,
        "published_power_values": len(published),
        "decoded_match_sent": decoded_powers == expected,
        "first_decoded_mismatch": _first_mismatch(expected, decoded_powers),
        "published_in_order_of_decoded": matched,
        "decoded_not_shown": len(unshown),
        "decoded_early": sum(early),
        "energy_values": len(energy),
        "energy_never_decreased": energy == sorted(energy),
        "writes": dict(writes),
        "rss_mib": {
            "start": round(rss_start, 1),
            "end": round(rss_end, 1),
            "by_day": {day: round(value, 1) for day, value in sorted(rss_by_day.items())},
        },
        "loop_lag_ms": _percentiles(lag),
        "paced_loop_lag_ms": _percentiles(paced_lag),
        "object_growth": _growth(types_start, types_end),
        "log_lines_by_day": {day: dict(levels) for day, levels in sorted(counter.by_day.items())},
        "log_messages": dict(counter.messages.most_common(12)),
        "wall_seconds": round(wall, 1),
    }


def _type_counts() -> Counter[str]:
    gc.collect()
    return Counter(type(item).__qualname__ for item in gc.get_objects())


def _growth(start: Counter[str], end: Counter[str]) -> dict[str, int]:
    """Object types whose count grew most (gc-tracked objects only)."""
    grown = {name: end[name] - start[name] for name in end if end[name] > start[name]}
    return dict(sorted(grown.items(), key=lambda item: -item[1])[:10])


def _not_shown(decoded: array[float], published: array[float]) -> tuple[list[int], bool]:
    """Decoded readings the power entity never showed, and whether the published ones are
    the decoded ones in order (a subsequence).

    An entity writes only changes, so a decoded value equal to the one it shows needs no
    write: it counts as shown; a value written again (when the entity becomes available)
    is one shown already.
    """
    missing: list[int] = []
    index = 0
    shown: float | None = None
    for value in published:
        if value == shown:
            continue  # written again for its availability or attributes
        while index < len(decoded) and decoded[index] != value:
            if decoded[index] != shown:
                missing.append(index)
            index += 1
        if index == len(decoded):
            return missing, False
        shown = value
        index += 1
    missing.extend(i for i in range(index, len(decoded)) if decoded[i] != shown)
    return missing, True


def _first_mismatch(expected: list[float], got: list[float]) -> Any:
    for index, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            return {
                "index": index,
                "expected": expected[index : index + 5],
                "got": got[index : index + 5],
            }
    return None if len(expected) == len(got) else {"lengths": [len(expected), len(got)]}


def _percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return {
        "samples": len(ordered),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": round(1000 * ordered[-1], 2),
        "mean": round(1000 * statistics.fmean(ordered), 2),
    }


def _report(args: argparse.Namespace, result: dict[str, Any], write: Callable[[str], None]) -> bool:
    meter = result["meter"]
    ha = result["home_assistant"]
    not_sent = sum(meter["not_sent_during_outages"].values())
    simulated = meter["generated"] * INTERVAL
    write(f"soak: {args.days:g} simulated days of a Kaifa meter (lists 1/2/3 on the real schedule)")
    write(
        f"  real time {result['wall_seconds']:.0f} s ({result['wall_seconds'] / 60:.1f} min), "
        f"{meter['sent'] / max(meter['seconds'], 1e-9):.0f} messages/s, "
        f"simulated time x{simulated / max(meter['seconds'], 1e-9):.0f}"
    )
    write(
        f"  messages generated     {meter['generated']} + {meter['paced_messages']} paced "
        f"(lists: {meter['lists']})"
    )
    write(f"  sent whole             {meter['sent']}")
    write(f"  cut by a fault         {meter['destroyed_by_faults']}")
    write(
        f"  not sent (link down)   {not_sent}  {meter['not_sent_during_outages']}, "
        f"outage seconds {meter['outage_seconds']}"
    )
    write(f"  faults                 {meter['faults']}, garbage {meter['garbage_bytes']} bytes")
    write(f"  decoded by HA          {result['decoded_readings']}  ({ha['coordinator']})")
    write(
        f"  decoded values equal to what was sent, in order: {result['decoded_match_sent']}"
        + ("" if result["decoded_match_sent"] else f" {result['first_decoded_mismatch']}")
    )
    write(
        f"  published power values {result['published_power_values']}, the decoded ones in "
        f"order: {result['published_in_order_of_decoded']}"
    )
    write(
        f"  decoded, not shown     {result['decoded_not_shown']}; readings that arrived on a "
        "new connection before the connection manager reported it up (shown all the same: "
        f"the data proves the connection): {result['decoded_early']}"
    )
    write(
        f"  energy states          {result['energy_values']}, never decreased: "
        f"{result['energy_never_decreased']}"
    )
    write(f"  state writes           {result['writes']}")
    write(f"  reconnects             {ha['reconnects']}  manager {ha['manager']}")
    write(f"  protocol               {ha['protocol']}")
    rss = result["rss_mib"]
    by_day = rss["by_day"]
    write(
        f"  RSS                    start {rss['start']} MiB, end {rss['end']} MiB, "
        f"growth {rss['end'] - rss['start']:+.1f} MiB (after day 1: "
        f"{rss['end'] - by_day.get(1, rss['start']):+.1f} MiB); highest by day {by_day}"
    )
    write(f"  event-loop lag (ms)    flat out: {result['loop_lag_ms']}")
    write(
        f"                         then {meter['paced_messages']} messages at "
        f"{args.paced_rate:g}/s: {result['paced_loop_lag_ms']}"
    )
    write(f"  objects that grew      {result['object_growth']}")
    write(f"  log lines by day       {result['log_lines_by_day']}")
    for text, count in result["log_messages"].items():
        write(f"    {count:6d} x {text}")
    if meter["stalls"]:
        write(f"  STALLS: the meter waited {WAIT_LIMIT:g} s for Home Assistant {meter['stalls']}x")
    ok = (
        meter["sent"] == result["decoded_readings"]
        and result["decoded_match_sent"]
        and result["published_in_order_of_decoded"]
        and result["decoded_not_shown"] == 0
        and result["energy_never_decreased"]
        and not meter["stalls"]
        and ha["coordinator"]["decode_failures"] == 0
    )
    write(
        "  RESULT: "
        + ("every message sent whole was decoded and published" if ok else "MISMATCH (see above)")
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=7.0, help="simulated days (default 7)")
    parser.add_argument(
        "--fault-hours", type=float, default=3.0, help="simulated hours between faults"
    )
    parser.add_argument("--window", type=int, default=8, help="messages in flight at most")
    parser.add_argument(
        "--paced-seconds", type=float, default=30.0, help="then this long at a meter-like pace"
    )
    parser.add_argument("--paced-rate", type=float, default=4.0, help="messages/s of that pace")
    parser.add_argument("--watchdog", type=float, default=2.0, help="watchdog option, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.ERROR)  # counted, not printed
    result = asyncio.run(_soak(args))
    ok = _report(args, result, print)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, **result}, indent=1, default=str
            )
            + "\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
