"""A Ctrl-C swallowed by a garbage-collection callback still stops a run from being committed."""

from __future__ import annotations

import signal
import sys
import threading
from types import SimpleNamespace

import pytest

from tinyhar import interrupts
from tinyhar.runfolder import write_run


@pytest.fixture()
def fresh_flag(monkeypatch):
    monkeypatch.setattr(interrupts, "_interrupted", threading.Event())
    old_handler = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as if never installed
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)
    yield interrupts._interrupted
    signal.signal(signal.SIGINT, old_handler)


def test_a_swallowed_interrupt_stops_the_commit(tmp_path, fresh_flag):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), write_run(out) as tmp:
        (tmp / "metrics.json").write_text("{}")
        fresh_flag.set()  # what the SIGINT handler does before its exception is swallowed
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_install_remembers_sigint_and_silences_ignored_tracebacks(fresh_flag, capsys):
    seen = []
    sys.unraisablehook = seen.append
    interrupts.install()
    assert signal.getsignal(signal.SIGINT) is interrupts._on_sigint
    with pytest.raises(KeyboardInterrupt):
        interrupts._on_sigint(signal.SIGINT, None)
    assert fresh_flag.is_set()
    sys.unraisablehook(SimpleNamespace(exc_value=KeyboardInterrupt()))
    other = SimpleNamespace(exc_value=ValueError("x"))
    sys.unraisablehook(other)
    assert seen == [other]  # only the KeyboardInterrupt is silenced
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_check_is_quiet_without_an_interrupt(fresh_flag):
    interrupts.check()
