"""Command line: ``python -m amshan read|decode|simulate`` (see ``--help``).

Exit codes: 0 ok, 1 unexpected error, 2 bad arguments, 3 connection error
(unreachable, refused, no such device, port in use), 4 no data (timeout, or
nothing decodable), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import date, datetime
from typing import Any, TextIO

from .autodecoder import AutoDecoder
from .cli_args import UsageError, build_parser
from .connection_manager import ConnectionManager, describe_error
from .meter_connection import ReaderSelector, SmartMeterMessageProtocol
from .simulator import MeterSimulator, SimulatorConfig
from .tcp_connection_factory import create_tcp_message_connection

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_NO_DATA = 4
EXIT_INTERRUPTED = 130

_HEX_TEXT = re.compile(rb"(?:0x)?(?:[0-9a-fA-F]{2})+")
type Connection = tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]


def _json_value(value: Any) -> Any:
    """JSON for what json cannot write itself: datetimes as ISO 8601, the rest as text."""
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _print(out: TextIO, reading: dict[str, Any], raw: bytes | None) -> None:
    line = dict(reading)
    if raw is not None:
        line["raw"] = raw.hex()
    out.write(json.dumps(line, default=_json_value) + "\n")
    out.flush()


def _connector(
    args: argparse.Namespace, queue: asyncio.Queue[Any]
) -> tuple[str, Callable[[], Awaitable[Connection]]]:
    loop = asyncio.get_running_loop()
    if args.tcp is not None:
        host, port = args.tcp

        async def tcp() -> Connection:
            return await create_tcp_message_connection(queue, loop, None, host, port)

        return f"{host}:{port}", tcp
    from . import serial_connection_factory  # TCP works without pyserial

    async def serial() -> Connection:
        return await serial_connection_factory.create_serial_message_connection(
            queue, loop, None, args.serial, args.baudrate, args.parity, args.bytesize, args.stopbits
        )

    return args.serial, serial


async def _read(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
    name, connect = _connector(args, queue)
    try:
        async with asyncio.timeout(args.timeout or 30):
            first: Connection | None = await connect()
    except (OSError, ValueError) as error:
        err.write(f"error: cannot connect to {name}: {describe_error(error)}\n")
        return EXIT_CONNECTION

    async def factory() -> Connection:
        nonlocal first
        if first is not None:
            connection, first = first, None
            return connection
        return await connect()

    decoder = AutoDecoder(args.key, args.auth_key)
    manager = ConnectionManager(factory, back_off_max=30.0, watchdog_timeout=None, name=name)
    loop_task = asyncio.create_task(manager.connect_loop())
    printed = 0
    try:
        while args.count is None or printed < args.count:
            try:
                async with asyncio.timeout(args.timeout):
                    message = await queue.get()
            except TimeoutError:
                err.write(f"error: no data from {name} for {args.timeout:g} s\n")
                return EXIT_NO_DATA
            reading = decoder.decode_message(message)
            if reading is None:
                logging.getLogger(__name__).info("Could not decode a message")
                continue
            _print(out, reading, message.as_bytes if args.raw else None)
            printed += 1
    finally:
        await manager.close()
        await loop_task
    return EXIT_OK


def _capture_bytes(data: bytes) -> bytes:
    """The bytes of a capture: hex text (whitespace and 0x allowed) or raw bytes."""
    words = data.split()
    if words and all(_HEX_TEXT.fullmatch(word) for word in words):
        return bytes.fromhex(b"".join(word.removeprefix(b"0x") for word in words).decode())
    return data


def _decode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as capture:
                data = capture.read()
    except OSError as error:
        err.write(f"error: cannot read {args.file}: {error.strerror or error}\n")
        return EXIT_USAGE
    decoder = AutoDecoder(args.key, args.auth_key)
    content = _capture_bytes(data)
    messages = [m for m in ReaderSelector().read(content) if m.is_valid]
    printed = 0
    for message in messages:
        reading = decoder.decode_message(message)
        if reading is not None:
            _print(out, reading, message.as_bytes if args.raw else None)
            printed += 1
    if not messages:  # no framing: an APDU, a notification body, or one per line
        chunks = [content]
        if content is not data:
            chunks += [_capture_bytes(line) for line in data.splitlines() if line.strip()]
        for chunk in chunks:
            reading = decoder.decode_frame_content(chunk)
            if reading is not None:
                _print(out, reading, chunk if args.raw else None)
                printed += 1
                if chunk is content:
                    break
    if not printed:
        err.write(f"error: nothing decodable in {args.file}\n")
        return EXIT_NO_DATA
    return EXIT_OK


async def _simulate(args: argparse.Namespace, err: TextIO) -> int:
    try:
        config = SimulatorConfig(**{f.name: getattr(args, f.name) for f in fields(SimulatorConfig)})
        simulator = MeterSimulator(config)
    except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise UsageError(f"simulate: {describe_error(error)}") from error
    try:
        await simulator.start()
    except OSError as error:
        reason = "address in use" if error.errno == errno.EADDRINUSE else describe_error(error)
        err.write(f"error: cannot listen on {args.host}:{args.port}: {reason}\n")
        return EXIT_CONNECTION
    err.write(
        f"Simulating a {args.meter} meter on {args.host}:{simulator.port}"
        f" (seed {args.seed}, speed {args.speed:g}x"
        f"{', encrypted' if args.encryption_key else ''}); Ctrl-C stops\n"
    )
    err.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
        if args.frames:
            waiters.append(asyncio.ensure_future(simulator.wait_generated(args.frames)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        await simulator.stop()
    return EXIT_OK


async def async_main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run a command inside a running event loop; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command == "read":
            return await _read(args, out, err)
        if args.command == "decode":
            return _decode(args, out, err)
        return await _simulate(args, err)
    except UsageError as error:
        err.write(f"{error}\n")
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m amshan``."""
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="count", default=0)
    level = verbosity.parse_known_args(argv)[0].verbose
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(level, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(async_main(argv))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
