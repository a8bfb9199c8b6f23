"""The command line's arguments: ``python -m amshan read|decode|simulate``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn

from .security import parse_key
from .simulator import METERS


class UsageError(Exception):
    """Bad command line arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _tcp_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _hex_key(text: str) -> bytes:
    try:
        return parse_key(text)
    except ValueError:  # its message names the key, never the text given
        raise argparse.ArgumentTypeError(
            "expected 32 hex digits (spaces, colons, dashes and 0x allowed)"
        ) from None


def _positive(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m amshan``."""
    parser = _Parser(prog="python -m amshan", description="Read and decode HAN/P1 meter data.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    read = commands.add_parser(
        "read", parents=[common], help="read a live meter, one JSON object per message"
    )
    target = read.add_mutually_exclusive_group(required=True)
    target.add_argument("--tcp", type=_tcp_address, metavar="HOST:PORT", help="network bridge")
    target.add_argument("--serial", metavar="DEVICE", help="serial port, e.g. /dev/ttyUSB0")
    serial = read.add_argument_group("serial settings (default 2400 8E1; P1 ports: 115200 N)")
    serial.add_argument("--baudrate", type=_positive(int), default=2400)
    serial.add_argument("--parity", choices="NEOMS", default="E")
    serial.add_argument("--bytesize", type=int, choices=(5, 6, 7, 8), default=8)
    serial.add_argument("--stopbits", type=float, choices=(1, 1.5, 2), default=1)
    read.add_argument("--count", type=_positive(int), help="stop after N decoded messages")
    read.add_argument("--timeout", type=_positive(float), help="give up after S s without data")
    _add_decode_options(read)

    decode = commands.add_parser(
        "decode", parents=[common], help="decode a capture (raw bytes or hex text)"
    )
    decode.add_argument("file", help="capture file, or - for standard input")
    _add_decode_options(decode)

    simulate = commands.add_parser(
        "simulate", parents=[common], help="serve a simulated meter over TCP"
    )
    simulate.add_argument("--meter", choices=METERS, default="kaifa")
    simulate.add_argument("--host", default="127.0.0.1", help="address to listen on")
    simulate.add_argument("--port", type=int, default=3001, help="TCP port (0: any free)")
    simulate.add_argument("--seed", type=int, default=0, help="seed of the load curve")
    simulate.add_argument("--phases", type=int, choices=(1, 3), default=3)
    simulate.add_argument("--speed", type=_positive(float), default=1.0, help="time factor")
    simulate.add_argument("--start", type=datetime.fromisoformat, help="meter clock at start")
    simulate.add_argument("--timezone", default="Europe/Oslo", help="meter time zone")
    faults = simulate.add_argument_group("faults (per client)")
    faults.add_argument("--drop-after", type=_positive(int), metavar="N", help="close after N")
    faults.add_argument("--garbage-rate", type=float, default=0.0, metavar="R", help="0..1")
    faults.add_argument("--go-silent-after", type=_positive(int), metavar="N")
    security = simulate.add_argument_group("encryption (HDLC meters)")
    security.add_argument("--encryption-key", type=_hex_key, metavar="HEX", help="encrypt")
    security.add_argument("--authentication-key", type=_hex_key, metavar="HEX", help="and tag")
    simulate.add_argument("--frames", type=_positive(int), help="stop after N messages")
    return parser


def _add_decode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--encryption-key", "--key", dest="key", type=_hex_key, metavar="HEX", help="32 hex digits"
    )
    parser.add_argument(
        "--authentication-key", "--auth-key", dest="auth_key", type=_hex_key, metavar="HEX"
    )
    parser.add_argument("--raw", action="store_true", help="add the message as hex")
