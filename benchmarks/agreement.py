"""Agreement check: ours and the reference on every value both decode, judged by ``expect``."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from amshan import autodecoder as ours_auto
from amshan import dlde as ours_dlde
from amshan import obis_map as ours_obis
from han import autodecoder as ref_auto
from han import dlde as ref_dlde

from .common import VECTORS, Vector, catch, content_of

_CDE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass
class Difference:
    """One value on which the two libraries disagree (or one lacks an expected key)."""

    vector: str
    key: str
    ours: str
    ref: str
    expect: str
    verdict: str


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _same(left: Any, right: Any) -> bool:
    left, right = _norm(left), _norm(right)
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    return bool(left == right)


def _ours(vector: Vector) -> dict[str, Any] | None:
    decoder = ours_auto.AutoDecoder()
    if vector.kind == "p1":
        for readout in ours_dlde.ModeDReader().read(vector.raw):
            if readout.is_valid:
                result = decoder.decode_message(readout)
                return dict(result) if result is not None else None
        return None
    result = decoder.decode_frame_content(content_of(vector))
    return dict(result) if result is not None else None


def _ref(vector: Vector) -> dict[str, Any] | None:
    decoder = ref_auto.AutoDecoder()
    if vector.kind == "p1":
        for readout in ref_dlde.ModeDReader().read(vector.raw):
            if readout.is_valid:
                return _rekey(decoder.decode_message(readout))
        return None
    return _rekey(decoder.decode_message_payload(content_of(vector)))


def _rekey(decoded: dict[str, Any] | None) -> dict[str, Any] | None:
    """Map the reference's names to ours where they mean the same thing.

    It names unknown codes 'C.D.E' (mapped to our key when there is one) and the P1 flag
    ``meter_manufacturer_id``.
    """
    if decoded is None:
        return None
    out = {}
    for key, value in decoded.items():
        match = _CDE.match(key)
        name = "meter_manufacturer" if key == "meter_manufacturer_id" else key
        if match:
            name = ours_obis.OBIS_KEYS.get((int(match[1]), int(match[2]), int(match[3])), key)
        out[name] = value
    return out


def check() -> dict[str, Any]:
    """Decode every plain vector with both; list differences and expect scores."""
    diffs: list[Difference] = []
    compared = 0
    score = {"ours": 0, "ref": 0, "expected": 0}
    failures: list[str] = []
    for vector in VECTORS:
        if vector.kind not in ("hdlc-frame", "dlms-apdu", "p1") or not vector.valid:
            continue
        ours, ours_err = catch(lambda v=vector: _ours(v))
        ref, ref_err = catch(lambda v=vector: _ref(v))
        if ours is None:
            failures.append(f"{vector.id}: ours {'raised ' + ours_err if ours_err else 'None'}")
        if ref is None:
            failures.append(f"{vector.id}: reference {'raised ' + ref_err if ref_err else 'None'}")
        ours, ref = ours or {}, ref or {}
        for key, want in vector.expect.items():
            score["expected"] += 1
            score["ours"] += key in ours and _same(ours[key], want)
            score["ref"] += key in ref and _same(ref[key], want)
        for key in sorted(set(ours) | set(ref) | set(vector.expect)):
            in_both = key in ours and key in ref
            if in_both:
                compared += 1
                if _same(ours[key], ref[key]):
                    continue
            elif key not in vector.expect:
                continue  # only one side decodes it and the source states nothing
            want = vector.expect.get(key, "<not stated>")
            ours_ok = key in ours and key in vector.expect and _same(ours[key], want)
            ref_ok = key in ref and key in vector.expect and _same(ref[key], want)
            if ours_ok and ref_ok:
                continue
            verdict = (
                "not stated by the source"
                if key not in vector.expect
                else "ours right"
                if ours_ok
                else "reference right"
                if ref_ok
                else "both wrong"
            )
            diffs.append(
                Difference(
                    vector.id,
                    key,
                    repr(_norm(ours[key])) if key in ours else "<missing>",
                    repr(_norm(ref[key])) if key in ref else "<missing>",
                    repr(want),
                    verdict,
                )
            )
    return {
        "values_compared": compared,
        "differences": [asdict(d) for d in diffs],
        "expect_score": score,
        "failures": failures,
    }


def summary(result: dict[str, Any]) -> str:
    """Text block for the console."""
    lines = [
        f"Agreement: {result['values_compared']} values decoded by both; "
        f"{len(result['differences'])} differences. Expected values matched: "
        f"ours {result['expect_score']['ours']}/{result['expect_score']['expected']}, "
        f"reference {result['expect_score']['ref']}/{result['expect_score']['expected']}."
    ]
    lines.extend(f"  decode failure: {f}" for f in result["failures"])
    lines.extend(
        f"  {d['vector']}: {d['key']}: ours {d['ours']}, reference {d['ref']}, "
        f"expect {d['expect']} -> {d['verdict']}"
        for d in result["differences"]
    )
    return "\n".join(lines)
