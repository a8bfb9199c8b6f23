"""Rows measured in fresh interpreters: T5 import time and memory, T11 RSS over many frames."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import BY_ID, OURS_PATH, QUICK, Row, plain_hdlc_frames, speedup

MIB = 1024 * 1024

_RSS = (
    "def rss():\n"
    "    with open('/proc/self/statm') as f:\n"
    "        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
)

_IMPORT_CHILD = (
    "import os, sys, time\n" + _RSS + "before = set(sys.modules)\n"
    "r0 = rss(); c0 = time.process_time_ns(); t0 = time.perf_counter_ns()\n"
    "{imports}\n"
    "t1 = time.perf_counter_ns(); c1 = time.process_time_ns(); r1 = rss()\n"
    "crypto = any(m.split('.')[0] == 'cryptography' for m in sys.modules)\n"
    "std = [m for m in sys.modules if m not in before and m.split('.')[0] in "
    "sys.stdlib_module_names]\n"
    "print(c1 - c0, r1 - r0, int(crypto), ','.join(std) or 'sys', t1 - t0)\n"
)

IMPORTS = {
    "ours": "import amshan.hdlc, amshan.dlde, amshan.autodecoder",
    "ref": "import han.hdlc, han.dlde, han.autodecoder",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(OURS_PATH)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _child(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_env()
    ).stdout


_DATACLASS_CHILD = (
    "import time, dataclasses\n"
    "spent = [0, 0]\n"
    "original = dataclasses._process_class\n"
    "def timed(*args, **kwargs):\n"
    "    start = time.process_time_ns()\n"
    "    try:\n"
    "        return original(*args, **kwargs)\n"
    "    finally:\n"
    "        spent[0] += time.process_time_ns() - start; spent[1] += 1\n"
    "dataclasses._process_class = timed\n"
    "{imports}\n"
    "print(*spent)\n"
)


def _dataclass_cost(which: str, runs: int) -> tuple[float, int]:
    """CPU ms spent creating dataclasses during the import, and how many."""
    code = _DATACLASS_CHILD.format(imports=IMPORTS[which])
    results = [[int(x) for x in _child(code).split()] for _ in range(runs)]
    return statistics.median(r[0] for r in results) / 1e6, results[0][1]


def _import_runs(which: str, runs: int) -> dict[str, float]:
    code = _IMPORT_CHILD.format(imports=IMPORTS[which])
    _child(code)  # warm-up: bytecode caches and the page cache
    in_proc, mem, crypto, wall, in_proc_wall = [], [], 0, [], []
    std = "sys"
    for _ in range(runs):
        start = time.perf_counter_ns()
        ns, rss, has_crypto, std, wall_ns = _child(code).split()
        wall.append(time.perf_counter_ns() - start)
        in_proc.append(int(ns))
        in_proc_wall.append(int(wall_ns))
        mem.append(int(rss))
        crypto |= int(has_crypto)
    # The same measurement for only the standard-library modules that import pulled in.
    std_code = _IMPORT_CHILD.format(imports="import " + std)
    std_ns, std_mem = [], []
    for _ in range(runs):
        ns, rss, _crypto, _std, _wall = _child(std_code).split()
        std_ns.append(int(ns))
        std_mem.append(int(rss))
    bare = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        _child("pass")
        bare.append(time.perf_counter_ns() - start)
    return {
        "import_ms": statistics.median(in_proc) / 1e6,
        "import_wall_ms": statistics.median(in_proc_wall) / 1e6,
        "wall_minus_bare_ms": (statistics.median(wall) - statistics.median(bare)) / 1e6,
        "rss_mib": statistics.median(mem) / MIB,
        "crypto": crypto,
        "stdlib_ms": statistics.median(std_ns) / 1e6,
        "stdlib_mib": statistics.median(std_mem) / MIB,
        "stdlib_modules": std.count(",") + 1,
    }


_KEY_CHILD = (
    "import sys\n"
    "from amshan.autodecoder import AutoDecoder\n"
    "d = AutoDecoder()\n"
    "d.decode_frame_content(bytes.fromhex(sys.argv[1]))\n"
    "before = 'cryptography' in sys.modules\n"
    "keyed = AutoDecoder(encryption_key=bytes.fromhex(sys.argv[3]))\n"
    "made = 'cryptography' in sys.modules\n"
    "keyed.decode_frame_content(bytes.fromhex(sys.argv[2]))\n"
    "print(int(before), int(made), int('cryptography' in sys.modules))\n"
)


def t5_import() -> list[Row]:
    """T5: import time of reader + decoder entry points, and RSS added by the import."""
    runs = 15 if not QUICK else 5
    ours = _import_runs("ours", runs)
    ref = _import_runs("ref", runs)
    dc_ms, dc_count = _dataclass_cost("ours", runs)
    frame = plain_hdlc_frames()[0].hex()
    cipher = BY_ID["dlmscosem_general_glo_cipher_data_notification"]
    key = (cipher.keys or {}).get("encryption_key") or "00" * 16
    lazy = subprocess.run(
        [sys.executable, "-c", _KEY_CHILD, frame, cipher.raw.hex(), key],
        check=False,
        capture_output=True,
        text=True,
        env=_env(),
    )
    before, made, after = [*lazy.stdout.split(), "?", "?", "?"][:3]
    crypto_note = (
        f"cryptography imported: after the import {bool(ours['crypto'])}, after decoding "
        f"without a key {before == '1'}, after AutoDecoder(encryption_key=...) {made == '1'}, "
        f"after decoding a ciphered APDU with the key {after == '1'}"
    )
    wall = (
        f"in-process wall clock ours {ours['import_wall_ms']:.1f} ms, reference "
        f"{ref['import_wall_ms']:.1f} ms; wall time of `python -c import` minus "
        "`python -c pass`: ours "
        f"{ours['wall_minus_bare_ms']:.1f} ms, reference {ref['wall_minus_bare_ms']:.1f} ms"
    )
    return [
        Row(
            "T5",
            "import hdlc + dlde + autodecoder (CPU time, median of fresh interpreters)",
            "ms",
            ref["import_ms"],
            ours["import_ms"],
            "<= 25 ms",
            ours["import_ms"] <= 25,
            speedup(ref["import_ms"], ours["import_ms"]),
            f"{runs} runs each; of that, the {ours['stdlib_modules']} standard-library modules "
            f"it pulls in take {ours['stdlib_ms']:.1f} ms (reference: {ref['stdlib_ms']:.1f} "
            f"ms); creating its {dc_count} dataclasses takes {dc_ms:.1f} ms; {wall}",
            {"ours": ours, "ref": ref},
        ),
        Row(
            "T5",
            "memory added by that import (RSS)",
            "MiB",
            ref["rss_mib"],
            ours["rss_mib"],
            "<= +3 MiB, no crypto without a key",
            ours["rss_mib"] <= 3 and not ours["crypto"] and before == "0",
            speedup(ref["rss_mib"], ours["rss_mib"]),
            f"of that, the standard-library modules take {ours['stdlib_mib']:.2f} MiB "
            f"(reference {ref['stdlib_mib']:.2f} MiB); {crypto_note}",
        ),
    ]


_SOAK_CHILD = (
    "import os, sys\n" + _RSS + "bare = rss()\n"
    "{imports}\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "frames = [bytes.fromhex(h) for h in data.decode().split()]\n"
    "total = int(sys.argv[2]); step = total // 10\n"
    "reader = {reader}; decoder = {decoder}\n"
    "done = 0; samples = []; i = 0\n"
    "while done < total:\n"
    "    for frame in reader.read(frames[i % len(frames)]):\n"
    "        if frame.is_valid and decoder.{method}(frame) is not None:\n"
    "            done += 1\n"
    "            if done % step == 0:\n"
    "                samples.append(rss())\n"
    "    i += 1\n"
    "print(bare, *samples)\n"
)


def _soak(which: str, total: int, path: Path) -> tuple[int, list[int]]:
    if which == "ours":
        code = _SOAK_CHILD.format(
            imports="from amshan import hdlc, autodecoder",
            reader="hdlc.HdlcFrameReader()",
            decoder="autodecoder.AutoDecoder()",
            method="decode_message",
        )
    else:
        code = _SOAK_CHILD.format(
            imports="import logging; logging.disable(50); from han import hdlc, autodecoder",
            reader="hdlc.HdlcFrameReader()",
            decoder="autodecoder.AutoDecoder()",
            method="decode_message",
        )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(total)],
        check=True,
        capture_output=True,
        text=True,
        env=_env(),
    ).stdout.split()
    values = [int(x) for x in out]
    return values[0], values[1:]


def t11_soak() -> Row:
    """T11: RSS while decoding many real frames; flat and close to the bare interpreter."""
    ours_total = 100_000 if not QUICK else 20_000
    ref_total = 10_000 if not QUICK else 2_000
    with tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False) as handle:
        handle.write("\n".join(f.hex() for f in plain_hdlc_frames()))
        path = Path(handle.name)
    try:
        bare, ours = _soak("ours", ours_total, path)
        ref_bare, ref = _soak("ref", ref_total, path)
    finally:
        path.unlink()
    growth = (ours[-1] - ours[0]) / MIB
    above = (ours[-1] - bare) / MIB
    ref_growth = (ref[-1] - ref[0]) / MIB
    ref_above = (ref[-1] - ref_bare) / MIB
    return Row(
        "T11",
        f"RSS above the bare interpreter after {ours_total:,} decoded frames",
        "MiB",
        ref_above,
        above,
        "flat, <= bare + 5 MiB",
        above <= 5 and growth <= 0.5,
        speedup(ref_above, above),
        f"ours grew {growth:+.2f} MiB from frame {ours_total // 10:,} to {ours_total:,} "
        f"(bare {bare / MIB:.1f} MiB); reference measured over {ref_total:,} frames: "
        f"grew {ref_growth:+.2f} MiB, {ref_above:.1f} MiB above bare",
        {"ours_rss_samples": ours, "ref_rss_samples": ref, "bare": bare, "ref_bare": ref_bare},
    )
