"""The web dashboard of ``tinyhar live --web``: a Starlette app with server-sent events.

Routes:

``GET /``
    One static page (``static/index.html``, no external assets: the timeline
    is hand-written SVG) showing the current activity, its probabilities,
    the minutes per activity and a scrolling timeline.
``GET /state``
    JSON snapshot (:meth:`LiveState.snapshot`): the page loads it first.
``GET /events``
    ``text/event-stream``: one ``prediction`` event per prediction (the
    prediction's dict plus ``stats``), a comment every 15 s to keep the
    connection open.

:class:`Dashboard` runs the app with uvicorn in a background thread on
127.0.0.1 (by default) and fans predictions out to every connected page;
a page that cannot keep up loses its oldest events (``dropped`` counts
them), it never slows the live loop down. :meth:`Dashboard.stop` ends the
pages' event streams first (a page then shows "disconnected, retrying..."),
so that the server stops at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from importlib import resources
from typing import Any

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.outputs.live import LiveState
from tinyhar.outputs.messages import Prediction

__all__ = ["DEFAULT_PORT", "Dashboard", "check_port", "make_app"]

DEFAULT_PORT = 8765
"""Port of ``tinyhar live --web``."""

QUEUE_SIZE = 10000
"""Events buffered per page before the oldest are dropped."""
STOP_TIMEOUT_S = 2.0
"""Seconds :meth:`Dashboard.stop` lets open requests finish before it cancels them."""
_END = None
"""The item that ends a page's event stream (:meth:`_Hub.close`)."""


def check_port(port: int) -> int:
    """The dashboard's TCP port, checked: 0 (any free one) to 65535.

    Raises
    ------
    ConfigError
        Another value (``socket.bind`` raised OverflowError).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--web-port {port}: a TCP port is 0 to 65535 (0: any free one)")
    return port


class _Hub:
    """Per-client asyncio queues fed from any thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[asyncio.Queue] = set()
        self.dropped = 0
        self.lock = threading.Lock()

    def _put(self, item: str | None) -> None:
        for q in list(self.clients):
            if q.full():
                q.get_nowait()
                self.dropped += 1
            q.put_nowait(item)

    def publish(self, item: str) -> None:
        loop = self.loop
        if loop is not None and self.clients:
            loop.call_soon_threadsafe(self._put, item)

    def close(self) -> None:
        """End every open event stream (their responses complete)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._put, _END)


def make_app(state: LiveState, hub: _Hub | None = None) -> Any:
    """The Starlette application of the dashboard.

    Parameters
    ----------
    state : LiveState
        What ``/state`` returns.
    hub : _Hub, optional
        Event fan-out (created by :class:`Dashboard`).
    """
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.routing import Route

    hub = hub or _Hub()
    page = (resources.files("tinyhar.outputs") / "static" / "index.html").read_text("utf-8")

    async def index(request):
        return HTMLResponse(page)

    async def snapshot(request):
        return JSONResponse(state.snapshot())

    async def events(request):
        q: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        hub.loop = asyncio.get_running_loop()
        hub.clients.add(q)

        async def stream():
            try:
                yield ": connected\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(q.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if item is _END:
                        return
                    yield item
            finally:
                hub.clients.discard(q)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    return Starlette(routes=[Route("/", index), Route("/state", snapshot),
                             Route("/events", events)])


class Dashboard:
    """The dashboard server (uvicorn in a thread) and its event fan-out.

    Parameters
    ----------
    state : LiveState
        Shared with :func:`tinyhar.outputs.live.run_live`.
    host : str
        Interface to listen on (127.0.0.1: this machine only).
    port : int
        TCP port (0: any free one; :attr:`url` tells which).

    Raises
    ------
    ConfigError
        A port outside 0..65535.
    TinyharError
        The port is taken or the host cannot be bound (the message names both).
    """

    def __init__(self, state: LiveState, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        from tinyhar.outputs.live import require

        check_port(port)
        uvicorn = require("uvicorn", "uvicorn")
        require("starlette", "starlette")
        self.state = state
        self.hub = _Hub()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError as exc:
            self.sock.close()
            raise TinyharError(
                f"cannot serve the dashboard on {host} port {port}: {exc.strerror or exc}; "
                "pass another --web-port (or --web-host: an IPv4 address or name)") from None
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(make_app(state, self.hub), log_level="warning",
                                lifespan="off", access_log=False,
                                timeout_graceful_shutdown=STOP_TIMEOUT_S)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True, name="tinyhar-dashboard")

    @property
    def url(self) -> str:
        """``http://host:port/``."""
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 10.0) -> Dashboard:
        """Start serving; returns self once the server accepts connections."""
        self.thread.start()
        for _ in range(int(timeout / 0.02)):
            if self.server.started:
                return self
            threading.Event().wait(0.02)
        raise TinyharError(f"the dashboard did not start on {self.url}")

    def publish(self, pred: Prediction, state: LiveState | None = None) -> None:
        """Send one prediction to every open page."""
        data = pred.to_dict()
        state = state or self.state
        data["stats"] = state.stats()
        data["minutes"] = state.minutes()
        self.hub.publish(f"event: prediction\ndata: {json.dumps(data)}\n\n")

    @property
    def dropped(self) -> int:
        """Events dropped for pages that could not keep up."""
        return self.hub.dropped

    def stop(self) -> None:
        """End the pages' event streams, stop the server and wait for its thread."""
        self.hub.close()
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.sock.close()
