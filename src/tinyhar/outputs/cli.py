"""The body of ``tinyhar live`` (the CLI in :mod:`tinyhar.cli` only declares its options)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tinyhar.errors import ConfigError

__all__ = ["live_command"]


def live_command(
    console: Any,
    serial: str | None = None,
    simulate: Path | None = None,
    recording: Path | None = None,
    session: str | None = None,
    speed: float = 1.0,
    run: Path | None = None,
    mqtt: str | None = None,
    qos: int = 1,
    csv: Path | None = None,
    parquet: Path | None = None,
    web: bool = False,
    web_host: str = "127.0.0.1",
    web_port: int = 8765,
    view: bool = True,
    limit: int | None = None,
    keep_serving: bool = True,
) -> None:
    """Build the source, sinks and dashboard of ``tinyhar live`` and run it.

    The source is ``serial``, else ``simulate`` (with ``recording``), else
    ``mqtt`` (subscribe); with a serial or simulator source, ``mqtt`` is where
    the predictions are republished. See :mod:`tinyhar.outputs.live`.

    Raises
    ------
    ConfigError
        No source, two sources, ``--simulate`` without ``--recording``, a bad
        QoS, MQTT URL or topic, a ``limit`` below 1, a dashboard port outside
        0..65535.
    TinyharError
        The source, broker or dashboard port cannot be opened (naming it).
    """
    from tinyhar.outputs.live import (
        CsvSink,
        LiveState,
        MqttPublisher,
        MqttSource,
        ParquetSink,
        SerialSource,
        SimulatorSource,
        close_all,
        run_live,
    )
    from tinyhar.outputs.messages import parse_mqtt_url

    if serial and simulate:
        raise ConfigError("give one source: --serial PORT or --simulate RUN, not both")
    if not (serial or simulate or mqtt):
        raise ConfigError("give a source: --serial PORT, --simulate RUN --recording FILE, "
                          "or --mqtt mqtt://host/tinyhar/+/activity")
    if simulate and recording is None:
        raise ConfigError("--simulate needs --recording (Parquet or CSV)")
    if qos not in (0, 1):
        raise ConfigError(f"--qos must be 0 or 1, not {qos}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be 1 or more predictions, not {limit}")
    url = parse_mqtt_url(mqtt) if mqtt else None
    state = LiveState()
    sinks: list[Any] = []
    dashboard = None
    source = None
    if web:
        from tinyhar.outputs.web import check_port

        check_port(web_port)  # before a board or broker is opened
    try:
        if serial:
            source = SerialSource(serial, run)
        elif simulate:
            source = SimulatorSource(simulate, recording, session, speed)
        else:
            source = MqttSource(url, qos=qos)
        if url is not None and (serial or simulate):
            sinks.append(MqttPublisher(url, qos=qos))
        if csv is not None:
            sinks.append(CsvSink(csv, getattr(source, "classes", None)))
        if parquet is not None:
            sinks.append(ParquetSink(parquet))
        if web:
            from tinyhar.outputs.web import Dashboard

            dashboard = Dashboard(state, web_host, web_port).start()
            console.print(f"dashboard: {dashboard.url}")
        handed, source = source, None  # run_live closes the source and the sinks
        run_live(handed, state, sinks, view=view, web=dashboard, limit=limit, console=console)
        console.print(state.summary())
        for sink in sinks:
            if getattr(sink, "undelivered", 0):
                console.print(f"[yellow]{sink.undelivered} prediction(s) did not reach the MQTT "
                              f"broker at {sink.url.host} port {sink.url.port}[/] (it was away)")
        if state.malformed:
            console.print(f"[yellow]{state.malformed} malformed message(s)[/], e.g. "
                          f"{state.malformed_examples[-1]}")
        if dashboard is not None and keep_serving:
            console.print(f"the source ended; the dashboard stays at {dashboard.url} "
                          "(Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    finally:
        try:
            if source is not None:
                source.close()
                close_all(sinks)
        finally:
            if dashboard is not None:
                dashboard.stop()
