"""The command line: ``python -m amshan read|decode|simulate``.

Most tests run the commands in-process (``async_main``) against a simulator in
the test's event loop; a few run ``python -m amshan`` and the scripts/ wrappers
as real subprocesses to check the entry points and the exit codes.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from custom_components.han_meter.amshan import cli
from custom_components.han_meter.amshan.builder import build_hdlc_frame, build_meter_frame
from custom_components.han_meter.amshan.simulator import MeterSimulator, SimulatorConfig
from tests.conftest import VECTORS

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_PARENT = ROOT / "custom_components" / "han_meter"


async def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.async_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def subprocess(*argv: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(LIBRARY_PARENT)}
    if "COV_CORE_SOURCE" in env:  # pytest-cov measures subprocesses: there the library
        env["COV_CORE_SOURCE"] = str(LIBRARY_PARENT)  # is "amshan", so match it by path
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def simulator(**options: Any) -> MeterSimulator:
    return MeterSimulator(SimulatorConfig(**{"port": 0, "speed": 50.0, **options}))


async def test_read_tcp_prints_json_lines(socket_enabled: None) -> None:
    async with simulator(meter="kaifa") as sim:
        code, out, err = await run(
            "read", "--tcp", f"127.0.0.1:{sim.port}", "--count", "5", "--raw", "--timeout", "10"
        )
    assert code == cli.EXIT_OK, err
    readings = lines(out)
    assert len(readings) == 5
    assert all(reading["active_power_import"] > 0 for reading in readings)
    assert all(bytes.fromhex(reading["raw"]).startswith(b"\x7e\xa0") for reading in readings)
    full = [r for r in readings if "voltage_l1" in r]
    assert full
    assert full[0]["meter_type"] == "MA304H3E"


async def test_read_p1_datetimes_are_iso_strings(socket_enabled: None) -> None:
    async with simulator(meter="p1", speed=100.0) as sim:
        code, out, _ = await run("read", "--tcp", f"127.0.0.1:{sim.port}", "--count", "2")
    assert code == cli.EXIT_OK
    reading = lines(out)[0]
    assert reading["meter_datetime"].startswith(sim.frames[0].time.strftime("%Y-%m-%dT%H:%M"))
    assert reading["active_power_import_total"] > 1_000_000


async def test_read_survives_a_drop(socket_enabled: None) -> None:
    async with simulator(meter="aidon", speed=200.0, drop_after=2) as sim:
        code, out, _ = await run("read", "--tcp", f"127.0.0.1:{sim.port}", "--count", "5")
        assert sim.connections >= 3
    assert code == cli.EXIT_OK
    assert len(lines(out)) == 5


async def test_read_skips_what_it_cannot_decode(socket_enabled: None) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(build_hdlc_frame(b"\xe6\xe7\x00\x0e\x01\x02"))  # valid, not meter data
        writer.write(build_meter_frame("kaifa", {"active_power_import": 321}))
        await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code, out, _ = await run("read", "--tcp", f"127.0.0.1:{port}", "--count", "1")
    server.close()
    await server.wait_closed()
    assert code == cli.EXIT_OK
    assert lines(out) == [{"active_power_import": 321}]


async def test_read_refused_port_exits_3(socket_enabled: None) -> None:
    code, out, err = await run("read", "--tcp", f"127.0.0.1:{free_port()}")
    assert code == cli.EXIT_CONNECTION == 3
    assert out == ""
    assert err.startswith("error: cannot connect to 127.0.0.1:")
    assert "Connect call failed" in err
    assert err.count("\n") == 1


async def test_read_missing_device_exits_3() -> None:
    code, _, err = await run("read", "--serial", "/dev/ttyNOSUCH0")
    assert code == cli.EXIT_CONNECTION
    assert err.startswith("error: cannot connect to /dev/ttyNOSUCH0: ")
    assert "No such file or directory" in err


async def test_read_serial_pty() -> None:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    frames = b"".join(build_meter_frame("kaifa", {"active_power_import": n}) for n in (5, 6))

    async def meter() -> None:
        await asyncio.sleep(0.2)
        os.write(master, frames)

    writer = asyncio.create_task(meter())
    try:
        code, out, err = await run(
            "read", "--serial", path, "--parity", "N", "--count", "2", "--timeout", "10"
        )
    finally:
        await writer
        os.close(master)
    assert code == cli.EXIT_OK, err
    assert [r["active_power_import"] for r in lines(out)] == [5, 6]


async def test_read_silent_meter_exits_4(socket_enabled: None) -> None:
    async with simulator(go_silent_after=1) as sim:
        port = sim.port
        code, out, err = await run(
            "read", "--tcp", f"127.0.0.1:{port}", "--count", "3", "--timeout", "0.5"
        )
    assert code == cli.EXIT_NO_DATA == 4
    assert len(lines(out)) == 1
    assert err == f"error: no data from 127.0.0.1:{port} for 0.5 s\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["read"], "one of the arguments --tcp --serial is required"),
        (["read", "--tcp", "localhost"], "expected HOST:PORT"),
        (["read", "--tcp", "h:99999"], "expected HOST:PORT"),
        (["read", "--tcp", "h:1", "--count", "0"], "expected a positive number"),
        (["read", "--tcp", "h:1", "--count", "x"], "expected a positive number"),
        (["read", "--serial", "/dev/x", "--parity", "X"], "invalid choice"),
        (["decode", "-", "--key", "00"], "expected 32 hex digits"),
        (["decode", "-", "--key", "zz"], "expected 32 hex digits"),
        (["simulate", "--garbage-rate", "2"], "garbage rate"),
        (["simulate", "--timezone", "Mars/Olympus"], "Mars/Olympus"),
        (["simulate", "--meter", "elster"], "invalid choice"),
    ],
)
async def test_bad_arguments_exit_2(argv: list[str], message: str) -> None:
    code, out, err = await run(*argv)
    assert code == cli.EXIT_USAGE == 2
    assert out == ""
    assert message in err


async def test_decode_capture_files(tmp_path: Path) -> None:
    hdlc = [v for v in VECTORS if v.kind == "hdlc-frame" and v.decodes]
    binary = tmp_path / "capture.bin"
    binary.write_bytes(b"".join(v.raw for v in hdlc))
    code, out, _ = await run("decode", str(binary))
    assert code == cli.EXIT_OK
    assert len(lines(out)) >= len(hdlc)

    hex_text = tmp_path / "capture.txt"
    hex_text.write_text("\n".join(" ".join(f"{b:02X}" for b in v.raw) for v in hdlc[:2]) + "\n")
    code, out_hex, _ = await run("decode", str(hex_text), "--raw")
    assert code == cli.EXIT_OK
    assert [r["raw"] for r in lines(out_hex)][:1] == [hdlc[0].raw.hex()]

    p1 = next(v for v in VECTORS if v.kind == "p1" and v.crc_ok)
    telegram = tmp_path / "p1.txt"
    telegram.write_bytes(p1.raw)
    code, out, _ = await run("decode", str(telegram))
    assert code == cli.EXIT_OK
    for key, value in p1.expect.items():
        assert lines(out)[0][key] == pytest.approx(value) or key == "meter_datetime"


async def test_decode_apdus_one_per_line(tmp_path: Path) -> None:
    apdus = [v for v in VECTORS if v.kind == "dlms-apdu" and v.decodes]
    capture = tmp_path / "apdus.hex"
    capture.write_text("\n".join("0x" + v.raw.hex() for v in apdus) + "\n\n")
    code, out, _ = await run("decode", str(capture))
    assert code == cli.EXIT_OK
    assert len(lines(out)) == len(apdus)
    single = tmp_path / "one.hex"
    single.write_text(apdus[0].raw.hex())
    code, out, _ = await run("decode", str(single), "--raw")
    assert code == cli.EXIT_OK
    assert lines(out)[0]["raw"] == apdus[0].raw.hex()


@pytest.mark.parametrize(
    "vector",
    [v for v in VECTORS if v.id.endswith(("omnipower_encrypted_hdlc", "encrypted_gbt"))],
    ids=lambda v: v.id,
)
async def test_decode_encrypted_with_keys(tmp_path: Path, vector: Any) -> None:
    capture = tmp_path / "encrypted.hex"
    capture.write_text(vector.raw.hex())
    code, _, _ = await run("decode", str(capture))
    assert code == cli.EXIT_NO_DATA  # no key, nothing to show
    keys = ["--key", vector.keys["encryption_key"]]
    if vector.keys.get("authentication_key"):
        keys += ["--auth-key", vector.keys["authentication_key"]]
    code, out, _ = await run("decode", str(capture), *keys)
    assert code == cli.EXIT_OK
    (reading,) = lines(out)
    for key, value in vector.expect.items():
        if key != "meter_datetime":
            assert reading[key] == pytest.approx(value)


def test_json_lines_write_datetimes_as_iso() -> None:
    out = io.StringIO()
    cli._print(out, {"meter_datetime": datetime(2024, 5, 6, 7, 8, 9), "x": Path("/a")}, None)
    assert json.loads(out.getvalue()) == {"meter_datetime": "2024-05-06T07:08:09", "x": "/a"}


async def test_decode_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    vector = next(v for v in VECTORS if v.kind == "hdlc-frame" and v.decodes)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(vector.raw)))
    code, out, _ = await run("decode", "-")
    assert code == cli.EXIT_OK
    assert lines(out)


async def test_decode_errors(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)))
    code, out, err = await run("decode", str(noise))
    assert code == cli.EXIT_NO_DATA
    assert err == f"error: nothing decodable in {noise}\n"
    code, _, err = await run("decode", str(tmp_path / "missing.bin"))
    assert code == cli.EXIT_USAGE
    assert "No such file or directory" in err


async def test_simulate_in_process(socket_enabled: None) -> None:
    code, _, err = await run(
        "simulate", "--port", "0", "--speed", "100", "--frames", "3", "--meter", "p1"
    )
    assert code == cli.EXIT_OK
    assert "Simulating a p1 meter on 127.0.0.1:" in err


async def test_simulate_port_in_use_exits_3(socket_enabled: None) -> None:
    async with simulator() as sim:
        port = sim.port
        code, _, err = await run("simulate", "--port", str(port))
    assert code == cli.EXIT_CONNECTION
    assert err == f"error: cannot listen on 127.0.0.1:{port}: address in use\n"


async def test_python_m_amshan_read_and_decode(socket_enabled: None, tmp_path: Path) -> None:
    async with simulator(meter="kamstrup") as sim:
        code, out, err = await subprocess(
            sys.executable, "-m", "amshan", "read", "--tcp", f"127.0.0.1:{sim.port}", "--count", "2"
        )
    assert code == 0, err
    assert len(lines(out)) == 2
    vector = next(v for v in VECTORS if v.kind == "hdlc-frame" and v.decodes)
    code, out, _ = await subprocess(
        sys.executable, "-m", "amshan", "decode", "-", stdin=vector.raw.hex().encode()
    )
    assert code == 0
    assert lines(out)


async def test_python_m_amshan_errors(socket_enabled: None) -> None:
    code, out, err = await subprocess(
        sys.executable, "-m", "amshan", "read", "--tcp", f"127.0.0.1:{free_port()}"
    )
    assert (code, out) == (3, "")
    assert err.startswith("error: cannot connect to 127.0.0.1:")
    code, _, err = await subprocess(sys.executable, "-m", "amshan", "read", "--serial", "/dev/nope")
    assert code == 3
    assert err.startswith("error: cannot connect to /dev/nope:")
    code, _, err = await subprocess(sys.executable, "-m", "amshan", "read")
    assert code == 2
    code, _, err = await subprocess(sys.executable, "-m", "amshan", "-v", "decode", "-")
    assert code == 4


async def test_scripts_simulate_and_reader(socket_enabled: None) -> None:
    env = {**os.environ}
    if "COV_CORE_SOURCE" in env:
        env["COV_CORE_SOURCE"] = str(LIBRARY_PARENT)
    simulate = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts" / "simulate"),
        "--port",
        "0",
        "--meter",
        "aidon",
        "--speed",
        "20",
        "-v",
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert simulate.stderr is not None
        async with asyncio.timeout(30):
            banner = ""
            while "Simulating" not in banner:
                line = await simulate.stderr.readline()
                assert line, "the simulator exited before it started serving"
                banner = line.decode()
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        code, out, err = await subprocess(
            str(ROOT / "scripts" / "reader"), "read", "--tcp", f"127.0.0.1:{port}", "--count", "3"
        )
        assert code == 0, err
        assert len(lines(out)) == 3
    finally:
        simulate.terminate()
        async with asyncio.timeout(30):
            await simulate.wait()
    assert simulate.returncode == 0  # SIGTERM is a clean stop


async def test_ctrl_c_exits_130(socket_enabled: None) -> None:
    env = {**os.environ, "PYTHONPATH": str(LIBRARY_PARENT)}
    if "COV_CORE_SOURCE" in env:
        env["COV_CORE_SOURCE"] = str(LIBRARY_PARENT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "amshan",
        "simulate",
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert process.stderr is not None
    async with asyncio.timeout(30):
        assert "Simulating" in (await process.stderr.readline()).decode()
        process.send_signal(signal.SIGINT)
        await process.wait()
    assert process.returncode == cli.EXIT_INTERRUPTED == 130
