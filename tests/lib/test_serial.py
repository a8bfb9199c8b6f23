"""Live reading from a real serial port: a pseudo-terminal (os.openpty).

The serial factory opens the slave side with real settings; the test writes to
the master side like a meter. A pseudo-terminal has no parity bit: Linux clears
PARENB, and newer kernels (6.18 here) then refuse the change with EINVAL, which
pyserial meets when serial_asyncio_fast re-applies the settings after opening. So
the tests use 2400 8E1 where the kernel takes it and 2400 8N1 where it does not,
and check that the refusal comes out as a SerialException naming the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.builder import build_meter_frame, build_p1_readout
from custom_components.han_meter.amshan.connection_manager import (
    ConnectionManager,
    ConnectionState,
)
from custom_components.han_meter.amshan.meter_connection import SmartMeterMessageProtocol
from custom_components.han_meter.amshan.serial_connection_factory import (
    create_serial_message_connection,
    create_serial_message_payload_connection,
)


def pty_takes_parity() -> bool:
    """Open a pty as 2400 8E1 and re-apply the settings, as the transport does."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        with serial.Serial(path, 2400, parity="E") as port:
            port.timeout = 0
    except termios.error:
        return False
    finally:
        os.close(master)
    return True


PARITY = "E" if pty_takes_parity() else "N"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextlib.contextmanager
def pty() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: (master fd, slave path). Only the master stays open."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        yield master, path
    finally:
        with contextlib.suppress(OSError):
            os.close(master)


def frame(number: int) -> bytes:
    return build_meter_frame("kaifa", {"active_power_import": number})


async def wait_until(condition: Any, limit: float = 10.0) -> None:
    """Poll ``condition`` (a plain predicate: nothing to await on) until it holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def write_in_pieces(master: int, data: bytes) -> None:
    for start in range(0, len(data), 50):
        os.write(master, data[start : start + 50])
        await asyncio.sleep(0.001)


async def test_frames_from_a_pty_with_real_settings() -> None:
    fds_before = open_fds()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    with pty() as (master, path):
        transport, protocol = await create_serial_message_connection(
            queue, loop, None, path, baudrate=2400, parity=PARITY, bytesize=8, stopbits=1
        )
        port = transport.serial
        assert (port.baudrate, port.parity, port.bytesize, port.stopbits) == (2400, PARITY, 8, 1)
        await asyncio.sleep(0.05)  # connection_made and the reader come with call_soon
        await write_in_pieces(master, b"".join(frame(n) for n in range(1, 6)))
        await wait_until(lambda: queue.qsize() >= 5)
        decoder = AutoDecoder()
        readings = [decoder.decode_message(queue.get_nowait()) for _ in range(5)]
        assert [r["active_power_import"] for r in readings if r] == [1, 2, 3, 4, 5]
        transport.close()
        await protocol.done
    assert open_fds() == fds_before


async def test_p1_payloads_from_a_pty() -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    telegram = build_p1_readout({"active_power_import": 1234, "voltage_l1": 230.1})
    with pty() as (master, path):
        transport, protocol = await create_serial_message_payload_connection(
            queue, loop, None, path, baudrate=115200
        )
        await asyncio.sleep(0.05)
        await write_in_pieces(master, telegram * 2)
        await wait_until(lambda: queue.qsize() >= 2)
        payload = queue.get_nowait()
        assert isinstance(payload, bytes)
        assert payload.startswith(b"/ELL5")
        reading = AutoDecoder().decode_frame_content(payload)
        assert reading is not None
        assert reading["active_power_import"] == 1234
        transport.close()
        await protocol.done


@pytest.mark.skipif(PARITY == "E", reason="this kernel takes parity on a pty")
async def test_settings_the_driver_refuses_raise_serial_exception() -> None:
    loop = asyncio.get_running_loop()
    fds_before = open_fds()
    with pty() as (_, path):
        with pytest.raises(serial.SerialException, match=r"as 2400 8E1: Invalid argument"):
            await create_serial_message_connection(
                asyncio.Queue(), loop, None, path, 2400, "E", 8, 1
            )
        with serial.Serial(path, 2400):
            pass  # the port is now 2400 8N1: even parity is the only change, opening fails
        with pytest.raises(serial.SerialException, match=r"as 2400 8E1: Invalid argument"):
            await create_serial_message_connection(
                asyncio.Queue(), loop, None, path, 2400, "E", 8, 1
            )
    assert open_fds() == fds_before


async def test_socket_url_goes_through_serial_asyncio(socket_enabled: None) -> None:
    loop = asyncio.get_running_loop()
    received = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(9))
        await reader.read()  # until the client closes
        writer.close()
        received.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    queue: asyncio.Queue[Any] = asyncio.Queue()
    transport, protocol = await create_serial_message_connection(
        queue, loop, None, f"socket://127.0.0.1:{port}"
    )
    async with asyncio.timeout(5):
        message = await queue.get()
    assert message.as_bytes == frame(9)
    transport.close()
    await protocol.done
    await received.wait()
    server.close()
    await server.wait_closed()


async def test_missing_device_and_port_in_use() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(serial.SerialException, match="could not open port"):
        await create_serial_message_connection(asyncio.Queue(), loop, None, "/dev/no-such-tty")
    with pty() as (_, path):
        transport, protocol = await create_serial_message_connection(
            asyncio.Queue(), loop, None, path
        )
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            await create_serial_message_connection(asyncio.Queue(), loop, None, path)
        transport.close()
        await protocol.done


async def test_manager_survives_the_pty_going_away() -> None:
    """Frames are decoded; the pty closes; the manager reopens a new one."""
    fds_before = open_fds()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    device = {"path": "/dev/no-such-tty"}

    async def factory() -> tuple[asyncio.BaseTransport, SmartMeterMessageProtocol]:
        return await create_serial_message_connection(
            queue, loop, None, device["path"], 2400, PARITY, 8, 1
        )

    manager = ConnectionManager(
        factory, back_off_min=0.02, back_off_max=0.1, circuit_breaker_min_uptime=0.2
    )
    loop_task = asyncio.create_task(manager.connect_loop())
    decoder = AutoDecoder()
    numbers: list[int] = []

    async def expect(count: int) -> None:
        async with asyncio.timeout(10):
            while len(numbers) < count:
                reading = decoder.decode_message(await queue.get())
                assert reading is not None
                numbers.append(reading["active_power_import"])

    try:
        await wait_until(lambda: manager.counters.connect_failures >= 2)  # no device yet
        assert manager.last_error is not None
        assert "no-such-tty" in manager.last_error
        with pty() as (master, path):
            device["path"] = path
            await wait_until(lambda: manager.state is ConnectionState.CONNECTED)
            await asyncio.sleep(0.05)
            await write_in_pieces(master, b"".join(frame(n) for n in range(1, 4)))
            await expect(3)
        # the master is closed: the port reports an error, the manager reconnects
        await wait_until(lambda: manager.counters.drops == 1)
        with pty() as (master, path):
            device["path"] = path
            await wait_until(lambda: manager.state is ConnectionState.CONNECTED)
            await asyncio.sleep(0.05)
            await write_in_pieces(master, b"".join(frame(n) for n in range(4, 7)))
            await expect(6)
            await manager.close()
    finally:
        await manager.close()
        await loop_task
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert manager.counters.connects == 2
    assert manager.state is ConnectionState.CLOSED
    assert open_fds() == fds_before
