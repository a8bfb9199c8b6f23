"""The simulator's encrypted streams, and the command line's key options."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.han_meter.amshan import cli
from custom_components.han_meter.amshan.autodecoder import AutoDecoder
from custom_components.han_meter.amshan.hdlc import HdlcFrame, HdlcFrameReader
from custom_components.han_meter.amshan.security import parse_ciphered_apdu
from custom_components.han_meter.amshan.simulator import (
    SYSTEM_TITLE,
    MeterSimulator,
    SimulatorConfig,
)
from custom_components.han_meter.amshan.tcp_connection_factory import (
    create_tcp_message_connection,
)

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
AUTH = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
OTHER = bytes.fromhex("f0e0d0c0b0a090807060504030201000")
START = datetime(2024, 1, 15, 0, 59, 50, tzinfo=ZoneInfo("Europe/Oslo"))


def simulator(**options: Any) -> MeterSimulator:
    settings: dict[str, Any] = {"port": 0, "start": START, "speed": 200.0}
    settings.update(options)
    return MeterSimulator(SimulatorConfig(**settings))


def frames(sim: MeterSimulator, count: int) -> list[tuple[dict[str, Any], HdlcFrame]]:
    """The first `count` messages of the simulated meter: (values sent, the frame)."""
    interval, _ = sim.schedule()
    first = sim._first_time()
    result = []
    for index in range(count):
        sent = sim.message_at(first + index * timedelta(seconds=interval))
        (frame,) = HdlcFrameReader().read(sent.data)
        assert frame.is_valid
        result.append((dict(sent.values), frame))
    return result


def test_config_checks_the_keys() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SimulatorConfig(encryption_key=b"short")
    with pytest.raises(ValueError, match="16 bytes"):
        SimulatorConfig(encryption_key=KEY, authentication_key=b"x")
    with pytest.raises(ValueError, match="needs an encryption key"):
        SimulatorConfig(authentication_key=AUTH)
    with pytest.raises(ValueError, match="HDLC meters only"):
        SimulatorConfig(meter="p1", encryption_key=KEY)
    config = SimulatorConfig(encryption_key=KEY, authentication_key=AUTH)
    assert KEY.hex() not in repr(config)
    assert repr(KEY) not in repr(config)


@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
@pytest.mark.parametrize("auth", [None, AUTH], ids=["encrypted", "authenticated"])
def test_encrypted_frames_decode_with_the_keys(meter: str, auth: bytes | None) -> None:
    sim = simulator(meter=meter, encryption_key=KEY, authentication_key=auth)
    plain_sim = simulator(meter=meter)
    decoder = AutoDecoder(KEY, auth)
    counters = []
    for (values, frame), (_, plain) in zip(frames(sim, 6), frames(plain_sim, 6), strict=True):
        assert frame.payload[:4] == b"\xe6\xe7\x00\xdb"
        ciphered = parse_ciphered_apdu(frame.payload[3:])
        assert ciphered.system_title == SYSTEM_TITLE
        assert ciphered.security_control == (0x20 if auth is None else 0x30)
        counters.append(ciphered.invocation_counter)
        assert frame.header is not None
        assert plain.header is not None
        for name in ("destination_address", "source_address", "control"):  # as the plain meter's
            assert getattr(frame.header, name) == getattr(plain.header, name)
        reading = decoder.decode_message(frame)
        assert reading == AutoDecoder().decode_message(plain)
        assert reading is not None
        assert reading["active_power_import"] == pytest.approx(values["active_power_import"], abs=1)
    assert counters == list(range(counters[0], counters[0] + 6))  # one up per message


def test_encrypted_frames_fail_with_the_right_reason() -> None:
    sim = simulator(meter="kamstrup", encryption_key=KEY, authentication_key=AUTH)
    (_, frame), *_ = frames(sim, 1)
    for decoder, error in (
        (AutoDecoder(), "encrypted_no_key"),
        (AutoDecoder(OTHER), "wrong_key"),
        (AutoDecoder(OTHER, AUTH), "wrong_key"),
        (AutoDecoder(KEY, OTHER), "wrong_authentication_key"),
    ):
        assert decoder.decode_message(frame) is None
        assert decoder.last_error == error
    # Without the authentication key the data decrypts; the tag is not checked.
    assert AutoDecoder(KEY).decode_message(frame) is not None


async def test_encrypted_stream_over_tcp(socket_enabled: None) -> None:
    """A client reads the encrypted stream of the simulator and decrypts it."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    decoder = AutoDecoder(KEY, AUTH)
    async with simulator(meter="aidon", encryption_key=KEY, authentication_key=AUTH) as sim:
        loop = asyncio.get_running_loop()
        transport, _ = await create_tcp_message_connection(queue, loop, None, "127.0.0.1", sim.port)
        try:
            readings = []
            async with asyncio.timeout(10):
                while len(readings) < 5:
                    reading = decoder.decode_message(await queue.get())
                    assert reading is not None
                    readings.append(reading)
        finally:
            transport.close()
    assert decoder.unwrapper.counters.decrypted == 5
    assert any("voltage_l1" in reading for reading in readings)


# Command line


async def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.async_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


async def test_simulate_encrypted(socket_enabled: None) -> None:
    code, _, err = await run(
        "simulate",
        "--port",
        "0",
        "--speed",
        "200",
        "--frames",
        "2",
        "--encryption-key",
        KEY.hex(),
        "--authentication-key",
        "0x" + AUTH.hex().upper(),
    )
    assert code == cli.EXIT_OK, err
    assert "encrypted" in err
    assert KEY.hex() not in err
    code, _, err = await run("simulate", "--meter", "p1", "--encryption-key", KEY.hex())
    assert code == cli.EXIT_USAGE
    assert "HDLC meters only" in err
    code, _, err = await run("simulate", "--encryption-key", "00")
    assert code == cli.EXIT_USAGE
    assert "expected 32 hex digits" in err


async def test_read_encrypted(socket_enabled: None) -> None:
    async with simulator(meter="kaifa", encryption_key=KEY) as sim:
        address = f"127.0.0.1:{sim.port}"
        code, out, err = await run(
            "read",
            "--tcp",
            address,
            "--count",
            "2",
            "--timeout",
            "10",
            "--encryption-key",
            KEY.hex(),
        )
        assert code == cli.EXIT_OK, err
        readings = [json.loads(line) for line in out.splitlines()]
        assert len(readings) == 2
        assert all(reading["active_power_import"] > 0 for reading in readings)


async def test_decode_encrypted_capture(tmp_path: Path) -> None:
    sim = simulator(meter="kamstrup", encryption_key=KEY, authentication_key=AUTH)
    ((values, frame),) = frames(sim, 1)
    capture = tmp_path / "capture.hex"
    capture.write_text(frame.as_bytes.hex())
    spaced = ":".join(f"{byte:02X}" for byte in KEY)  # 00:01:02:...
    code, out, err = await run(
        "decode", str(capture), "--encryption-key", spaced, "--authentication-key", AUTH.hex()
    )
    assert code == cli.EXIT_OK, err
    (reading,) = [json.loads(line) for line in out.splitlines()]
    assert reading["active_power_import"] == pytest.approx(values["active_power_import"], abs=1)
    # The short names still work; a wrong authentication key gives nothing.
    code, out, _ = await run("decode", str(capture), "--key", KEY.hex(), "--auth-key", OTHER.hex())
    assert code == cli.EXIT_NO_DATA
    assert out == ""
    code, _, _ = await run("decode", str(capture))
    assert code == cli.EXIT_NO_DATA
