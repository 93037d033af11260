"""A real Mosquitto broker for tests (importable as ``tests.broker``).

``mosquitto`` (Debian package ``mosquitto``) is started on 127.0.0.1 on a free
port with a config file of its own (no persistence, anonymous access) and
stopped after the test; tests skip with the reason when it is not installed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from tinyhar.tools import find_tool


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary (:func:`tinyhar.tools.find_tool`: PATH, then sbin), or None."""
    return find_tool("mosquitto")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One mosquitto process on 127.0.0.1:port; stop() and start() again on the same port."""

    def __init__(self, exe: str, folder: Path) -> None:
        self.exe = exe
        self.folder = folder
        self.port = free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen | None = None
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 100000\nmax_inflight_messages 0\n"
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts connections."""
        log = (self.folder / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = (self.folder / "mosquitto.log").read_text()
                raise RuntimeError(f"mosquitto exited: {log_text}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@pytest.fixture
def mosquitto(tmp_path):
    """A running :class:`Broker` (skips when mosquitto is not installed)."""
    exe = find_mosquitto()
    if exe is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    broker = Broker(exe, tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
