"""T12: event-loop time per Aidon list 2 message inside a running Home Assistant.

Runs in the test venv (.venv, which has homeassistant and its test harness), not in
.venv-bench: ``.venv/bin/python -m benchmarks.hass_loop``. An in-process Home Assistant core
(pytest-homeassistant-custom-component's ``async_test_home_assistant``) sets up a han_meter
config entry for a TCP meter on 127.0.0.1. A server thread sends one list 2 frame every
``INTERVAL`` seconds, each with different values so every entity really changes state. Every
callback the event loop runs is timed (``asyncio.events.Handle._run`` is wrapped) and the loop
time between two sends is charged to the message sent first: protocol callback, framing,
decode, coordinator and entity state writes. Idle windows measured afterwards show the floor.
The windows in which the capacity tariff took a snapshot (at most one a second, so about
one window in 50 here) are reported apart as well: they make the p99.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import logging
import pstats
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import Any

from .common import BY_ID, QUICK, RESULTS, Row, content_of, percentile

MESSAGES = 600 if not QUICK else 150
WARMUP = 50 if not QUICK else 20
INTERVAL = 0.02
IDLE_WINDOWS = 100
VECTOR = "hassams_aidon_6534_list2"

_records: list[tuple[int, int, int]] = []
_snapshots: list[int] = []  # when the capacity tariff runtime took a snapshot


def _watch_snapshots() -> None:
    from custom_components.han_meter.capacity_runtime import CapacityRuntime

    original = CapacityRuntime.async_refresh

    def async_refresh(self: CapacityRuntime) -> None:
        _snapshots.append(time.perf_counter_ns())
        original(self)

    CapacityRuntime.async_refresh = async_refresh  # type: ignore[method-assign]


def _instrument() -> None:
    """Time every callback run by any asyncio loop in this process (only HA's runs here)."""
    original = asyncio.events.Handle._run
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    records = _records

    def _run(self: asyncio.Handle) -> None:
        start, cpu_start = clock(), cpu()
        try:
            original(self)
        finally:
            records.append((start, clock() - start - wall_cost, cpu() - cpu_start - cpu_cost))

    def _noop() -> None:
        return None

    samples = []
    for _ in range(2001):
        start, cpu_start = clock(), cpu()
        _noop()
        samples.append((clock() - start, cpu() - cpu_start))
    wall_cost = int(statistics.median(s[0] for s in samples))
    cpu_cost = int(statistics.median(s[1] for s in samples))

    asyncio.events.Handle._run = _run  # type: ignore[method-assign]


def _frames(count: int) -> tuple[list[bytes], str]:
    """``count`` Aidon list 2 frames built from the real capture's values, each different,
    and the meter id they carry."""
    from custom_components.han_meter.amshan.autodecoder import AutoDecoder
    from custom_components.han_meter.amshan.builder import build_meter_frame

    values = dict(AutoDecoder().decode_frame_content(content_of(BY_ID[VECTOR])) or {})
    values.pop("meter_manufacturer", None)
    stamp = values.pop("meter_datetime", None)
    out = []
    meter_id = str(values.get("meter_id", ""))
    for i in range(count):
        changed = dict(values)
        for key, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                changed[key] = type(value)(value + (i % 50) + 1)
        out.append(
            build_meter_frame(
                "aidon", changed, timestamp=stamp if isinstance(stamp, datetime) else None
            )
        )
    return out, meter_id


class MeterServer(threading.Thread):
    """A TCP meter on 127.0.0.1 that sends the frames at a fixed pace once told to start."""

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.frames = frames
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.go = threading.Event()
        self.stop = threading.Event()
        self.sent: list[int] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.sock.settimeout(30)
            conn, _ = self.sock.accept()
            with conn:
                conn.sendall(self.frames[0])  # lets the entities appear
                self.go.wait(60)
                next_at = time.perf_counter()
                for frame in self.frames[1:]:
                    if self.stop.is_set():
                        break
                    next_at += INTERVAL
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                    self.sent.append(time.perf_counter_ns())
                    conn.sendall(frame)
                self.stop.wait(60)
        except OSError as err:
            self.error = str(err)
        finally:
            self.sock.close()


async def _measure() -> dict[str, Any]:
    from homeassistant.const import CONF_HOST, CONF_PORT
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
        async_test_home_assistant,
    )

    from custom_components.han_meter import const

    frames, meter_id = _frames(MESSAGES + 1)
    server = MeterServer(frames)
    server.start()
    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            from homeassistant import loader

            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            entry = MockConfigEntry(
                domain=const.DOMAIN,
                data={
                    const.CONF_TRANSPORT: const.TRANSPORT_NETWORK,
                    CONF_HOST: "127.0.0.1",
                    CONF_PORT: server.port,
                },
                unique_id=meter_id,
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            await _until(lambda: _has_values(hass, const.DOMAIN), 20)
            entities = len(hass.states.async_entity_ids("sensor"))
            _records.clear()
            profiler = cProfile.Profile() if "--profile" in sys.argv else None
            if profiler:
                profiler.enable()
            server.go.set()
            await _until(lambda: not server.is_alive() or len(server.sent) >= MESSAGES, 120)
            await asyncio.sleep(0.2)
            if profiler:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
            idle_start = time.perf_counter_ns()
            await asyncio.sleep(IDLE_WINDOWS * INTERVAL)
            idle_end = time.perf_counter_ns()
            records = list(_records)
            server.stop.set()
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)
    server.join(5)
    return {
        "per_message": _windows(records, server.sent)[WARMUP:],
        "with_snapshot": _with_events(_snapshots, server.sent)[WARMUP:],
        "per_message_wall": _windows(records, server.sent, 1)[WARMUP:],
        "idle": _windows(
            records,
            [idle_start + int(i * INTERVAL * 1e9) for i in range(IDLE_WINDOWS)] + [idle_end],
        )[:-1],
        "entities": entities,
        "server_error": server.error,
    }


async def _until(condition: Any, seconds: float) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def _has_values(hass: Any, domain: str) -> bool:
    from homeassistant.helpers import entity_registry as er

    registry = er.async_get(hass)
    for entity in registry.entities.values():
        if entity.platform == domain:
            state = hass.states.get(entity.entity_id)
            if state is not None and state.state not in ("unavailable", "unknown"):
                return True
    return False


def _windows(records: list[tuple[int, int, int]], marks: list[int], field: int = 2) -> list[float]:
    """Loop busy time (ms) between consecutive marks, charged to the earlier mark.

    ``field`` 2 is the loop thread's CPU time, 1 the wall-clock time of the callbacks."""
    out = []
    index = 0
    records = sorted(records)
    for begin, end in zip(marks, [*marks[1:], marks[-1] + int(INTERVAL * 1e9)], strict=True):
        while index < len(records) and records[index][0] < begin:
            index += 1
        busy = 0
        j = index
        while j < len(records) and records[j][0] < end:
            busy += records[j][field]
            j += 1
        out.append(busy / 1e6)
    return out


def _with_events(events: list[int], marks: list[int]) -> list[bool]:
    """Whether any event happened between each mark and the next (as `_windows` does)."""
    ends = [*marks[1:], marks[-1] + int(INTERVAL * 1e9)]
    return [any(begin <= t < end for t in events) for begin, end in zip(marks, ends, strict=True)]


def _rows(result: dict[str, Any] | None, error: str | None) -> list[Row]:
    if result is None or not result["per_message"]:
        return [
            Row(
                "T12",
                "event-loop time per list 2 message in Home Assistant, p99",
                "ms",
                None,
                "not measured",
                "p99 <= 2 ms",
                None,
                note=f"run failed: {error or 'no messages arrived'}",
            )
        ]
    per = result["per_message"]
    idle = result["idle"]
    wall = result["per_message_wall"]
    p50, p99 = statistics.median(per), percentile(per, 99)
    snapshot = [ms for ms, taken in zip(per, result["with_snapshot"], strict=True) if taken]
    other = [ms for ms, taken in zip(per, result["with_snapshot"], strict=True) if not taken]
    note = (
        "loop thread CPU time of every callback run between two sends; wall-clock p50 "
        f"{statistics.median(wall):.3f} ms, p99 {percentile(wall, 99):.3f} ms (includes time "
        "the OS gave to other processes); "
        f"{len(per)} messages (after {WARMUP} warm-up) every {INTERVAL * 1e3:.0f} ms over "
        f"TCP 127.0.0.1, {result['entities']} sensor entities; p50 {p50:.3f} ms, "
        f"max {max(per):.3f} ms; idle loop floor p50 {statistics.median(idle):.3f} ms, "
        f"p99 {percentile(idle, 99):.3f} ms per {INTERVAL * 1e3:.0f} ms window; "
        f"{len(snapshot)} windows with a capacity snapshot: p50 "
        f"{statistics.median(snapshot) if snapshot else 0:.3f} ms; the others: p99 "
        f"{percentile(other, 99) if other else 0:.3f} ms"
    )
    return [
        Row("T12", "event-loop time per list 2 message in HA, p50", "ms", None, p50, "reported",
            None, note=""),
        Row("T12", "event-loop time per list 2 message in HA, p99", "ms", None, p99,
            "p99 <= 2 ms", p99 <= 2, note=note),
    ]  # fmt: skip


def main() -> int:
    """Measure and write benchmarks/results/t12.json (bench.py merges it into the table)."""
    logging.disable(logging.NOTSET)
    logging.basicConfig(level=logging.WARNING)
    _instrument()
    _watch_snapshots()
    result, error = None, None
    try:
        result = asyncio.run(_measure())
    except Exception as err:  # reported in the row rather than failing the whole run
        error = f"{type(err).__name__}: {err}"
    rows = _rows(result, error)
    RESULTS.mkdir(parents=True, exist_ok=True)
    from dataclasses import asdict

    (RESULTS / "t12.json").write_text(
        json.dumps({"rows": [asdict(r) for r in rows], "python": sys.version}, indent=2) + "\n"
    )
    for row in rows:
        print(f"{row.id} {row.case}: {row.ours} {row.unit} ({row.note or row.target})")
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
