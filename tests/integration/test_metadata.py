"""Checks of manifest.json, hacs.json, quality_scale.yaml and the translations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import voluptuous as vol
import yaml

from custom_components.han_meter import config_flow, options_flow, validation
from custom_components.han_meter.const import DOMAIN
from custom_components.han_meter.sensor_descriptions import SENSORS

ROOT = Path(__file__).parents[2]
INTEGRATION = ROOT / "custom_components" / DOMAIN

# The fields of manifest.json as documented in the developer docs
# (https://developers.home-assistant.io/docs/creating_integration_manifest), with
# what hassfest adds for custom integrations (`version`, `issue_tracker`).
MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): vol.Match(r"^[a-z0-9_]+$"),
        vol.Required("name"): str,
        vol.Required("codeowners"): [vol.Match(r"^@.+$")],
        vol.Required("config_flow"): bool,
        vol.Required("dependencies"): [str],
        vol.Required("documentation"): vol.Match(r"^https://"),
        vol.Required("integration_type"): vol.In(
            ["device", "entity", "hardware", "helper", "hub", "service", "system", "virtual"]
        ),
        vol.Required("iot_class"): vol.In(
            [
                "assumed_state",
                "cloud_polling",
                "cloud_push",
                "local_polling",
                "local_push",
                "calculated",
            ]
        ),
        vol.Required("issue_tracker"): vol.Match(r"^https://"),
        vol.Required("requirements"): [vol.Match(r"^[A-Za-z0-9._-]+==[0-9][A-Za-z0-9.]*$")],
        vol.Required("version"): vol.Match(r"^\d+\.\d+\.\d+$"),
        vol.Optional("loggers"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Optional("quality_scale"): vol.In(
            ["bronze", "silver", "gold", "platinum", "internal", "legacy", "custom"]
        ),
        vol.Optional("single_config_entry"): bool,
    }
)

# hacs.json as documented in https://hacs.xyz/docs/publish/start/#hacsjson.
HACS_SCHEMA = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("zip_release"): bool,
        vol.Optional("filename"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("homeassistant"): vol.Match(r"^\d{4}\.\d+\.\d+$"),
        vol.Optional("hacs"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
    }
)

QUALITY_RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "entity-event-setup", "entity-unique-id", "has-entity-name",
    "runtime-data", "test-before-configure", "test-before-setup", "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


SAME_IN_ALL_LANGUAGES = {"Port", "OBIS {code}", "P1 (115200 8N1)", "Multiplikator"}


def _load(name: str) -> Any:
    return json.loads((INTEGRATION / name).read_text(encoding="utf-8"))


def test_manifest() -> None:
    """manifest.json has every documented field, right."""
    manifest = MANIFEST_SCHEMA(_load("manifest.json"))
    assert manifest["domain"] == DOMAIN
    assert manifest["version"] == "0.1.0"
    assert manifest["iot_class"] == "local_push"
    assert manifest["loggers"] == ["custom_components.han_meter.amshan"]


def test_hacs() -> None:
    """hacs.json at the root of the repository follows the HACS schema."""
    hacs = HACS_SCHEMA(json.loads((ROOT / "hacs.json").read_text(encoding="utf-8")))
    assert hacs == {"name": "HAN Meter", "homeassistant": "2025.4.0", "render_readme": True}


def test_quality_scale() -> None:
    """Every rule up to Platinum has a status; exemptions say why."""
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    assert set(rules) == QUALITY_RULES
    for name, rule in rules.items():
        if isinstance(rule, str):
            assert rule in ("done", "todo"), name
        else:
            assert rule["status"] in ("done", "exempt", "todo"), name
            assert rule["comment"].strip(), name


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix}
    keys: set[str] = set()
    for key, value in tree.items():
        keys |= _keys(value, f"{prefix}/{key}")
    return keys


def _placeholders(tree: Any) -> dict[str, set[str]]:
    return {key: set(re.findall(r"{(\w+)}", value)) for key, value in _flatten(tree).items()}


def _flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, str] = {}
    for key, value in tree.items():
        flat |= _flatten(value, f"{prefix}/{key}")
    return flat


def test_translations() -> None:
    """en.json is strings.json; the other languages translate every string."""
    strings = _load("strings.json")
    assert _load("translations/en.json") == strings
    english = _flatten(strings)
    for language in ("nb", "sv", "da"):
        translation = _load(f"translations/{language}.json")
        assert _keys(translation) == _keys(strings), language
        assert _placeholders(translation) == _placeholders(strings), language
        flat = _flatten(translation)
        untranslated = [
            key
            for key, value in flat.items()
            if value == english[key] and value not in SAME_IN_ALL_LANGUAGES
        ]
        assert untranslated == [], language


def test_icons() -> None:
    """Icons are given for translation keys that exist."""
    icons = _load("icons.json")["entity"]["sensor"]
    sensors = _load("strings.json")["entity"]["sensor"]
    assert set(icons) <= set(sensors)


def test_translation_keys_exist() -> None:
    """Every entity, error and abort the code uses has a string."""
    strings = _load("strings.json")
    sensors = strings["entity"]["sensor"]
    for description in SENSORS.values():
        assert description.translation_key in sensors
    assert "obis_code" in sensors
    errors = set(strings["config"]["error"])
    source = "".join(
        Path(module.__file__).read_text() for module in (config_flow, options_flow, validation)
    )
    used = set(
        re.findall(
            r'"(cannot_connect_\w+|no_\w+|permission_denied|device_busy|'
            r'invalid_\w+|cannot_decode|unknown)"',
            source,
        )
    )
    assert used - {"no_such_device"} <= errors | set(strings["options"]["error"])
    assert "no_such_device" in errors
    for reason in ("already_configured", "wrong_meter", "reconfigure_successful"):
        assert reason in strings["config"]["abort"]
