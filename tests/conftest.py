"""Shared fixtures: the captured meter vectors in tests/fixtures/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Vector:
    """One captured meter message with the values its public source states."""

    id: str
    source: str
    kind: str
    raw: bytes
    valid: bool
    decodes: bool
    expect: dict[str, Any]
    keys: dict[str, str | None] | None
    expect_plaintext: bytes | None
    crc_ok: bool | None


def load_vectors() -> list[Vector]:
    """Every vector in tests/fixtures/vectors, sorted by id."""
    vectors = []
    for path in sorted((FIXTURES / "vectors").glob("*.json")):
        data = json.loads(path.read_text())
        plaintext = data.get("expect_plaintext_hex")
        vectors.append(
            Vector(
                id=data["id"],
                source=data["source"],
                kind=data["kind"],
                raw=bytes.fromhex(data["raw_hex"]),
                valid=data["valid"],
                decodes=data["decodes"],
                expect=data["expect"],
                keys=data["keys"],
                expect_plaintext=bytes.fromhex(plaintext) if plaintext else None,
                crc_ok=data.get("crc_ok"),
            )
        )
    return vectors


VECTORS = load_vectors()


def vectors_of(*kinds: str) -> list[Any]:
    """pytest params of the vectors of the given kinds, with their ids."""
    return [pytest.param(v, id=v.id) for v in VECTORS if v.kind in kinds]
