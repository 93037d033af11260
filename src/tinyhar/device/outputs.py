"""Settings of the board app's outputs, staged for ``tinyhar deploy --outputs ... --wifi ...``.

``tinyhar deploy runs/x --port PORT --outputs screen,led,mqtt --wifi wifi.toml``
copies, besides the bundle, two JSON files the board app reads at start
(``outputs.open_outputs`` in the bundle's ``outputs.py``):

``tinyhar_outputs.json``
    No secrets: ``{"outputs": [...], "mqtt": {qos, prefix, device_id,
    home_assistant, model}, "led": {...}, "log": {...}, "ble": {...}}``.
``tinyhar_secrets.json``
    Wi-Fi and broker credentials from ``wifi.toml``:
    ``{"wifi": {"ssid", "password"}, "mqtt": {"host", "port", "user", "password"}}``.
    Only deploy writes it, into a temporary folder that is deleted after the
    copy; ``tinyhar export`` never does, and no message prints its values.

``wifi.toml``::

    [wifi]                   # leave out for a board on Ethernet / the unix port
    ssid = "home"
    password = "secret"

    [mqtt]
    host = "192.168.1.20"    # required for the mqtt output
    port = 1883
    user = "board"           # optional
    password = "secret"      # optional
    qos = 1                  # 0 or 1
    prefix = "tinyhar"       # topic: <prefix>/<device_id>/activity
    device_id = "kitchen"    # default: the board's unique id (hex)
    home_assistant = true    # publish Home Assistant MQTT discovery configs

    [led]                    # optional: pins and beeps (outputs.LedOutput)
    led = 19
    buzzer = 2
    beep_on = ["fall"]

    [log]                    # optional: outputs.CsvLog
    max_bytes = 262144
    keep = 3
    min_free_bytes = 65536

    [ble]                    # optional: outputs.BleOutput (aioble)
    name = "thar-kitchen"    # advertised name, at most 15 bytes (default thar-<id>)
    interval_ms = 200
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyhar.errors import ConfigError

__all__ = [
    "OUTPUT_NAMES",
    "SECRETS_FILE",
    "SETTINGS_FILE",
    "parse_outputs",
    "read_wifi_toml",
    "stage_outputs",
]

OUTPUT_NAMES = ("screen", "led", "log", "mqtt", "ble")
"""Outputs the board app knows (``outputs.open_outputs``)."""

SETTINGS_FILE = "tinyhar_outputs.json"
"""Output selection and options on the board (no secrets)."""

SECRETS_FILE = "tinyhar_secrets.json"
"""Wi-Fi and broker credentials on the board (written by deploy only)."""

_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "wifi": {"ssid": str, "password": str},
    "mqtt": {"host": str, "port": int, "user": str, "password": str, "qos": int, "prefix": str,
             "device_id": str, "home_assistant": bool, "reconnect_min_s": (int, float),
             "reconnect_max_s": (int, float), "keepalive_s": int,
             "socket_timeout_s": (int, float)},
    "led": {"led": int, "buzzer": int, "beep_on": list, "blink_ms": int, "beep_ms": int,
            "beep_hz": int, "active_low": bool},
    "log": {"path": str, "max_bytes": int, "keep": int, "min_free_bytes": int},
    "ble": {"name": str, "interval_ms": int},
}
_SECRET_KEYS = {"wifi": ("ssid", "password"), "mqtt": ("host", "port", "user", "password")}


def parse_outputs(text: str | Sequence[str]) -> list[str]:
    """Output names from ``"screen,led,mqtt"`` (or a list), checked.

    Raises
    ------
    ConfigError
        An unknown name (the message lists the known ones).
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip().lower() for n in items if n.strip()]
    bad = [n for n in names if n not in OUTPUT_NAMES]
    if bad:
        raise ConfigError(f"--outputs: unknown output(s) {bad}; known: {', '.join(OUTPUT_NAMES)}")
    return list(dict.fromkeys(names))


def read_wifi_toml(path: str | Path) -> dict[str, dict[str, Any]]:
    """The checked sections of a ``wifi.toml`` (see the module docstring).

    Raises
    ------
    ConfigError
        Missing file, invalid TOML (with its line), an unknown section or
        key, or a value of the wrong type (naming the file and key; values
        are never shown, they may be secrets).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: Wi-Fi/broker settings file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}]; known: "
                              f"{', '.join('[' + s + ']' for s in _SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {section} must be a [{section}] table")
        for key, value in values.items():
            kinds = _SECTIONS[section].get(key)
            if kinds is None:
                raise ConfigError(f"{path}: unknown key {section}.{key}; known: "
                                  f"{', '.join(_SECTIONS[section])}")
            if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is int):
                want = kinds.__name__ if isinstance(kinds, type) else "number"
                raise ConfigError(f"{path}: {section}.{key} must be a {want}")
    mqtt = data.get("mqtt", {})
    if mqtt.get("qos", 1) not in (0, 1):
        raise ConfigError(f"{path}: mqtt.qos must be 0 or 1")
    if "port" in mqtt and not 0 < mqtt["port"] < 65536:
        raise ConfigError(f"{path}: mqtt.port must be between 1 and 65535")
    return data


def stage_outputs(
    dest: str | Path,
    outputs: str | Sequence[str],
    wifi: str | Path | None = None,
    bundle: str | Path | None = None,
    model: str | None = None,
) -> list[Path]:
    """Write the board's output settings (and secrets) into ``dest``.

    Parameters
    ----------
    dest : str or Path
        Staging folder (a temporary folder in deploy).
    outputs : str or sequence of str
        Output names, e.g. ``"screen,led,mqtt"`` (:data:`OUTPUT_NAMES`).
    wifi : str or Path, optional
        ``wifi.toml``; required for ``mqtt``.
    bundle : str or Path, optional
        The bundle: its ``umqtt/`` is used for ``mqtt`` when it has one.
    model : str, optional
        Model id put in every MQTT payload (default on the board: CRC-32 of
        ``model.bin``).

    Returns
    -------
    list of Path
        Files and folders to copy to the board's root:
        ``tinyhar_outputs.json``, ``tinyhar_secrets.json`` (with ``wifi``),
        ``umqtt`` (with ``mqtt``), ``lib`` holding ``aioble/`` (with ``ble``,
        when aioble is on this machine: :mod:`tinyhar.export.aioble`; without
        it, deploy installs it with ``mpremote mip``).

    Raises
    ------
    ConfigError
        Unknown output, ``mqtt`` without ``wifi.toml`` or without
        ``[mqtt] host``, a bad ``wifi.toml``.
    TinyharError
        ``mqtt`` and umqtt.simple not found (see :mod:`tinyhar.export.umqtt`).
    """
    from tinyhar.export.aioble import add_aioble
    from tinyhar.export.umqtt import add_umqtt

    names = parse_outputs(outputs)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    data = read_wifi_toml(wifi) if wifi is not None else {}
    if "mqtt" in names:
        if wifi is None:
            raise ConfigError("--outputs mqtt needs --wifi wifi.toml with an [mqtt] host")
        if not data.get("mqtt", {}).get("host"):
            raise ConfigError(f"{wifi}: the mqtt output needs [mqtt] host = \"...\"")
    settings: dict[str, Any] = {"outputs": names}
    secrets: dict[str, dict[str, Any]] = {}
    for section, values in data.items():
        secret = {k: v for k, v in values.items() if k in _SECRET_KEYS.get(section, ())}
        plain = {k: v for k, v in values.items() if k not in secret}
        if secret:
            secrets[section] = secret
        if plain:
            settings[section] = plain
    if model is not None:
        settings.setdefault("mqtt", {})["model"] = model
    files = [dest / SETTINGS_FILE]
    files[0].write_text(json.dumps(settings, indent=1), encoding="utf-8")
    if secrets:
        files.append(dest / SECRETS_FILE)
        files[-1].write_text(json.dumps(secrets), encoding="utf-8")
    if "mqtt" in names:
        have = Path(bundle) / "umqtt" / "simple.py" if bundle is not None else None
        if have is not None and have.is_file():
            shutil.copytree(have.parent, dest / "umqtt", dirs_exist_ok=True)
        else:
            add_umqtt(dest)
        files.append(dest / "umqtt")
    if "ble" in names and add_aioble(dest, required=False) is not None:
        files.append(dest / "lib")
    return files
