"""Load and latency of the live path: publisher -> Mosquitto -> ``tinyhar live`` -> dashboard.

A synthetic publisher (paho-mqtt, QoS 1) sends ``--n`` predictions, shaped
like the board's MQTT payload plus a ``sent_at`` wall-clock stamp, at
``--rate`` messages per second (0: as fast as the broker acknowledges them)
to a Mosquitto broker it starts on 127.0.0.1 (a free port). ``tinyhar live
--mqtt ... --web`` runs as its own process, subscribed with QoS 1; a
dashboard client reads the server-sent events of ``/events`` and takes, per
prediction, ``received - sent_at`` as the end-to-end latency. Everything
stays on 127.0.0.1; the benchmark stops by itself (at the latest ``--timeout``
seconds after the last message was published) and stops what it started.

Printed (``--json``: one JSON object)::

    {"messages_per_s": ..., "p50_latency_ms": ..., "p99_latency_ms": ...,
     "dropped": ..., "n_messages": ..., "offered_per_s": ..., "out_of_order": ...}

``messages_per_s``: predictions that reached the dashboard client divided by
the time from the first publish to the last arrival; ``dropped``: published
minus distinct predictions that arrived. Targets (issue 11): >= 100
predictions/s, p99 < 100 ms, 0 dropped at QoS 1.

Needs ``mosquitto`` (Debian package) and the ``live`` extra (paho-mqtt,
starlette, uvicorn, httpx).

Usage::

    python benchmarks/live.py [--json] [--n 10000] [--rate 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CLASSES = ["LAYING", "SITTING", "STANDING", "WALKING", "WALKING_DOWNSTAIRS", "WALKING_UPSTAIRS"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"error: {what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"error: {what} did not listen on 127.0.0.1:{port} within {timeout:g} s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _payload(i: int, rng: np.random.Generator) -> str:
    k = int(i // 20 % len(CLASSES))
    p = rng.dirichlet(np.ones(len(CLASSES)) * 0.3)
    p[k] += 1.0
    p /= p.sum()
    probs = {c: round(float(v), 4) for c, v in zip(CLASSES, p, strict=True)}
    return json.dumps({"t": round(1.28 * i, 4), "activity": CLASSES[k],
                       "confidence": round(float(p[k]), 4), "probabilities": probs,
                       "model": "bench", "seq": i + 1, "sent_at": time.time()})


def run(n: int, rate: float, timeout: float) -> dict:
    """Run the benchmark once; return the result dict."""
    import httpx
    import paho.mqtt.client as mqtt

    exe = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).is_file()),
        None)
    if exe is None:
        raise SystemExit("error: mosquitto is not installed (Debian: apt-get install mosquitto)")
    tmp = Path(tempfile.mkdtemp(prefix="tinyhar_bench_live_"))
    mport, wport = _free_port(), _free_port()
    (tmp / "mosquitto.conf").write_text(
        f"listener {mport} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_inflight_messages 0\n")
    broker = live = None
    arrivals: dict[int, float] = {}  # seq -> latency (s)
    last_arrival = [0.0]
    order: list[int] = []
    try:
        broker = subprocess.Popen([exe, "-c", str(tmp / "mosquitto.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(mport, broker, "mosquitto")
        src = Path(__file__).resolve().parents[1] / "src"
        env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
        live = subprocess.Popen(
            [sys.executable, "-m", "tinyhar", "live", "--mqtt",
             f"mqtt://127.0.0.1:{mport}/bench/+/activity", "--web", "--web-port", str(wport),
             "--no-view", "--limit", str(n), "--no-keep-serving"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_port(wport, live, "tinyhar live")

        connected = threading.Event()
        stop = threading.Event()

        def client() -> None:
            with httpx.stream("GET", f"http://127.0.0.1:{wport}/events",
                              timeout=httpx.Timeout(5.0, read=None)) as resp:
                for line in resp.iter_lines():
                    if line == ": connected":
                        connected.set()
                    elif line.startswith("data: "):
                        now = time.time()
                        msg = json.loads(line[6:])
                        arrivals.setdefault(msg["seq"], now - msg["sent_at"])
                        last_arrival[0] = now
                        order.append(msg["seq"])
                        if len(arrivals) >= n or stop.is_set():
                            return

        reader = threading.Thread(target=client, daemon=True)
        reader.start()
        if not connected.wait(15):
            raise SystemExit("error: the dashboard's event stream did not open")
        time.sleep(1.0)  # tinyhar live subscribes to the broker while its web server starts

        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tinyhar-bench-pub")
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", mport)
        pub.loop_start()
        rng = np.random.default_rng(0)
        t0 = time.time()
        infos = []
        for i in range(n):
            if rate > 0:
                wait = t0 + i / rate - time.time()
                if wait > 0:
                    time.sleep(wait)
            infos.append(pub.publish("bench/board1/activity", _payload(i, rng), qos=1))
        for info in infos:
            info.wait_for_publish(timeout)
        published = time.time()
        reader.join(timeout)
        stop.set()
        pub.loop_stop()
        pub.disconnect()
    finally:
        _stop(live)
        _stop(broker)
        shutil.rmtree(tmp, ignore_errors=True)
    lat = np.array(sorted(arrivals.values())) * 1000.0
    last = last_arrival[0] if arrivals else published
    got = len(arrivals)
    return {
        "messages_per_s": round(got / max(last - t0, 1e-9), 1),
        "p50_latency_ms": round(float(np.percentile(lat, 50)), 2) if got else None,
        "p99_latency_ms": round(float(np.percentile(lat, 99)), 2) if got else None,
        "dropped": int(n - got),
        "n_messages": int(n),
        "offered_per_s": rate if rate > 0 else None,
        "out_of_order": int(sum(1 for a, b in zip(order, order[1:], strict=False) if b < a)),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--n", type=int, default=10000, help="predictions to send")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="messages per second offered (0: as fast as possible)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for the last arrivals")
    args = parser.parse_args(argv)
    result = run(args.n, args.rate, args.timeout)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>16}: {v}")


if __name__ == "__main__":
    main()
