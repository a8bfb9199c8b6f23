"""The library runs on the standard library alone: no Home Assistant, no third-party package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import VECTORS

PACKAGE_DIR = Path(__file__).parents[2] / "custom_components" / "han_meter"

SCRIPT = """
import sys
already_loaded = set(sys.modules)  # e.g. coverage, started by a .pth file under pytest-cov
sys.path[:] = [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
sys.path.insert(0, {package_dir!r})
from amshan.autodecoder import AutoDecoder
from amshan.dlde import ModeDReader
from amshan.hdlc import HdlcFrameReader

decoder = AutoDecoder()
frames = HdlcFrameReader().read(bytes.fromhex({frame!r}))
hdlc_reading = decoder.decode_message(frames[0])
readouts = ModeDReader().read(bytes.fromhex({telegram!r}))
p1_reading = decoder.decode_message(readouts[0])
assert hdlc_reading["active_power_import"] == 1202, hdlc_reading
assert p1_reading["meter_manufacturer"] == "KAM", p1_reading
third_party = sorted(
    name for name, module in sys.modules.items()
    if name not in already_loaded and "-packages" in (getattr(module, "__file__", None) or "")
)
assert "homeassistant" not in sys.modules
assert "cryptography" not in sys.modules
assert not third_party, third_party
print("ok")
"""


def test_library_imports_and_decodes_without_site_packages() -> None:
    frame = next(v.raw for v in VECTORS if v.id == "hassams_kamstrup_list1_3ph")
    telegram = next(v.raw for v in VECTORS if v.id == "amshan_p1_kamstrup_kam5_se")
    script = SCRIPT.format(package_dir=str(PACKAGE_DIR), frame=frame.hex(), telegram=telegram.hex())
    result = subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
