"""The dashboard of tinyhar live --web: HTTP/SSE with httpx, and the page in headless Chromium."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.outputs.test_live import run_and_recording  # noqa: F401  (fixture)
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.outputs.live import LiveState, SimulatorSource, run_live
from tinyhar.outputs.messages import Prediction
from tinyhar.outputs.web import Dashboard

CLASSES = ["SITTING", "STANDING", "WALKING"]


def _pred(i: int, activity: str, source: str = "b1") -> Prediction:
    probs = {c: (0.8 if c == activity else 0.1) for c in CLASSES}
    return Prediction(1.28 * i, activity, 0.8, probs, source, seq=i + 1)


def _runs(activities: list[str]) -> list[str]:
    out: list[str] = []
    for a in activities:
        if not out or out[-1] != a:
            out.append(a)
    return out


def test_state_and_events_over_http():
    import httpx

    state = LiveState()
    dash = Dashboard(state, port=0).start()
    try:
        for i in range(3):
            p = _pred(i, "WALKING")
            state.add(p)
            dash.publish(p)
        snap = httpx.get(dash.url + "state").json()
        assert [p["seq"] for p in snap["timeline"]] == [1, 2, 3]
        assert snap["current"]["b1"]["activity"] == "WALKING" and snap["classes"] == CLASSES
        page = httpx.get(dash.url).text
        assert "<svg id=\"timeline\"" in page
        # no external assets: no CDN, no other host (the SVG namespace is a name, not a fetch)
        assert "<script src" not in page and "<link" not in page
        assert "://" not in page.replace("http://www.w3.org/2000/svg", "")
        events = []
        with httpx.stream("GET", dash.url + "events", timeout=10) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            lines = resp.iter_lines()
            assert next(lines) == ": connected"

            def feed():
                time.sleep(0.3)
                for i in range(3, 6):
                    p = _pred(i, "SITTING")
                    state.add(p)
                    dash.publish(p)

            threading.Thread(target=feed).start()
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                    if len(events) == 3:
                        break
        assert [e["seq"] for e in events] == [4, 5, 6]
        assert events[-1]["stats"]["received"] == 6
        assert events[-1]["minutes"]["WALKING"] == pytest.approx(3 * 1.28 / 60)
    finally:
        dash.stop()


def test_port_in_use_names_host_and_port():
    state = LiveState()
    first = Dashboard(state, port=0).start()
    try:
        with pytest.raises(TinyharError, match=f"127.0.0.1 port {first.port}"):
            Dashboard(state, port=first.port)
    finally:
        first.stop()


@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_port_out_of_range_is_a_usage_error(port):
    """A port outside 0..65535 is named (socket.bind raised OverflowError: a traceback)."""
    with pytest.raises(ConfigError, match=f"--web-port {port}"):
        Dashboard(LiveState(), port=port)


def test_stop_ends_the_open_event_streams():
    """Stopping the dashboard ends the pages' event streams, so the server stops at once
    (uvicorn waited for the never-ending streams: stop() gave up after 10 s, the server
    thread still running)."""
    import httpx

    dash = Dashboard(LiveState(), port=0).start()
    ended = threading.Event()

    def page():
        with httpx.stream("GET", dash.url + "events", timeout=30) as resp:
            for _ in resp.iter_lines():
                pass
        ended.set()

    threading.Thread(target=page, daemon=True).start()
    _wait(lambda: dash.hub.clients)
    dash.stop()
    assert not dash.thread.is_alive()
    assert ended.wait(10)


def _chrome_or_skip():
    from tinyhar.tools import find_tool

    chromium, driver = find_tool("chromium"), find_tool("chromedriver")
    if not chromium or not driver:
        pytest.skip("chromium and chromedriver are not installed "
                    "(Debian: apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=opts)


def _wait(fn, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the page")


def test_dashboard_in_headless_chromium(run_and_recording, tmp_path):  # noqa: F811
    """Replay a labelled recording: half before the page opens (/state), half live (SSE)."""
    from tinyhar.export.micropython import find_micropython

    try:
        find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    browser = _chrome_or_skip()
    run, rec = run_and_recording
    preds = list(SimulatorSource(run, rec, speed=0))
    assert len(preds) > 40
    half = len(preds) // 2

    class Replay:  # a source that hands out a prepared list
        state = None

        def __init__(self, items):
            self.items = items

        def __iter__(self):
            for p in self.items:
                time.sleep(0.01)
                yield p

        def close(self):
            pass

    state = LiveState()
    dash = Dashboard(state, port=0).start()
    try:
        run_live(Replay(preds[:half]), state, view=False, web=dash)
        browser.get(dash.url)
        _wait(lambda: browser.execute_script(
            "return document.getElementById('status').textContent") == "live")
        run_live(Replay(preds[half:]), state, view=False, web=dash)
        expected = _runs([p.activity for p in preds])

        def attrs(selector, name):  # read in one go: the page re-renders its nodes
            return browser.execute_script(
                "return Array.from(document.querySelectorAll(arguments[0]))"
                ".map(e => e.getAttribute(arguments[1]))", selector, name)

        def text(element_id):
            return browser.execute_script(
                "return document.getElementById(arguments[0]).textContent", element_id)

        _wait(lambda: f"{len(preds)} predictions" in text("stats"))
        time.sleep(0.5)  # the last render
        assert attrs("#segments li", "data-activity") == expected
        assert text("current") == preds[-1].activity
        assert attrs("#timeline rect", "data-activity") == expected
        assert attrs("#probs .prob", "data-class") == list(preds[-1].probabilities)
        shots = Path(os.environ.get("TINYHAR_TEST_ARTIFACTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shots / "dashboard.png"))
        assert (shots / "dashboard.png").stat().st_size > 10_000
    finally:
        browser.quit()
        dash.stop()
