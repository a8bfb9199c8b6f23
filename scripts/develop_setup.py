"""Waits for the Home Assistant of scripts/develop and adds the simulator's HAN Meter entry.

Uses only the REST API a user's browser uses: log in as the demo user, then run the
config flow (network, 127.0.0.1, the simulator's port) unless an entry exists.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

BASE = "http://127.0.0.1:8123"
USER, PASSWORD = "demo", "demo-han-meter"


def request(path: str, body: Any = None, token: str | None = None, form: bool = False) -> Any:
    """One HTTP request to the local Home Assistant; returns the decoded JSON answer."""
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(BASE + path, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wait_until_ready(timeout: float) -> None:
    """Block until Home Assistant's HTTP server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request("/manifest.json")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
        else:
            return
    sys.exit(f"Home Assistant did not start within {timeout:.0f} s")


def log_in() -> str:
    """Log in as the demo user through the login flow; returns an access token."""
    flow = request(
        "/auth/login_flow",
        {"client_id": BASE + "/", "handler": ["homeassistant", None], "redirect_uri": BASE + "/"},
    )
    result = request(
        f"/auth/login_flow/{flow['flow_id']}",
        {"client_id": BASE + "/", "username": USER, "password": PASSWORD},
    )
    tokens = request(
        "/auth/token",
        {"grant_type": "authorization_code", "code": result["result"], "client_id": BASE + "/"},
        form=True,
    )
    return str(tokens["access_token"])


def answer(step: dict[str, Any], port: int) -> dict[str, Any]:
    """What the demo user types into one step of the HAN Meter config flow."""
    if step["type"] == "menu":
        return {"next_step_id": "network"}
    names = {field["name"] for field in step.get("data_schema", [])}
    values: dict[str, Any] = {}
    if "host" in names:
        values["host"] = "127.0.0.1"
    if "port" in names:
        values["port"] = port
    return values


def add_simulator_entry(token: str, port: int) -> None:
    """Run the config flow for the simulator unless a HAN Meter entry exists."""
    entries = request("/api/config/config_entries/entry", token=token)
    if any(entry["domain"] == "han_meter" for entry in entries):
        print("HAN Meter entry already set up")
        return
    step = request("/api/config/config_entries/flow", {"handler": "han_meter"}, token=token)
    for _ in range(20):
        if step["type"] == "create_entry":
            print(f"HAN Meter entry created: {step['title']}")
            return
        if step["type"] in ("abort",) or step.get("errors"):
            sys.exit(f"HAN Meter setup stopped: {step}")
        path = f"/api/config/config_entries/flow/{step['flow_id']}"
        if step["type"] == "progress":
            time.sleep(1)
            step = request(path, token=token)
        else:
            step = request(path, answer(step, port), token=token)
    sys.exit(f"HAN Meter setup did not finish: {step}")


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="config")
    parser.add_argument("--simulator-port", type=int, default=3001)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    wait_until_ready(args.timeout)
    add_simulator_entry(log_in(), args.simulator_port)


if __name__ == "__main__":
    main()
