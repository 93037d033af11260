"""Predictions as they arrive on the laptop: ``PRED`` lines and MQTT payloads, parsed and checked.

Two wire formats carry a prediction:

* the live app's console line (serial, simulator)::

      PRED <t_start_s> <class> <p_0> ... <p_k-1>
      INVALID <t_start_s> <reason>

* the board's MQTT payload on ``<prefix>/<device_id>/activity`` (a JSON object)::

      {"t": 12.8, "activity": "WALKING", "confidence": 0.82,
       "probabilities": {"LAYING": 0.0, ..., "WALKING": 0.82, ...},
       "model": "x:1a2b3c4d", "seq": 17}

Anything else that claims to be a prediction (a ``PRED`` line with missing
or non-numeric fields, a payload that is not such a JSON object) raises
:class:`MalformedMessage`; callers count and report those and go on.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.export.escaping import from_wire_name
from tinyhar.features.validity import INVALID_CLASS

__all__ = [
    "DEFAULT_MQTT_PORT",
    "DEFAULT_TOPIC",
    "MalformedMessage",
    "MqttUrl",
    "Prediction",
    "check_topic",
    "parse_mqtt_payload",
    "parse_mqtt_url",
    "parse_pred_line",
]

DEFAULT_MQTT_PORT = 1883
DEFAULT_TOPIC = "tinyhar/+/activity"
"""Topic filter of every board's activity (``tinyhar/<device_id>/activity``)."""


class MalformedMessage(TinyharError, ValueError):
    """A PRED line or MQTT payload that is not a valid prediction (counted, never fatal)."""


@dataclass
class Prediction:
    """One prediction of one source.

    Attributes
    ----------
    t : float
        Start time of the window, s (the device's clock or the recording's).
    activity : str
        Class name; ``"invalid"`` for an invalid window (sensor fault).
    confidence : float
        Probability of ``activity``, 0..1 (0 for an invalid window).
    probabilities : dict of str to float
        Class -> probability, in the model's class order (empty for an invalid window).
    source : str
        Device id (MQTT topic), serial port, or ``"simulator"``.
    seq : int or None
        Sequence number from the device (MQTT), for gap counting.
    model : str or None
        Model id the device reported.
    received : float
        Arrival time on this machine, s since the epoch (``time.time()``).
    extra : dict
        Other payload keys, passed on unchanged (e.g. ``sent_at`` of the benchmark).
    """

    t: float
    activity: str
    confidence: float
    probabilities: dict[str, float]
    source: str
    seq: int | None = None
    model: str | None = None
    received: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the MQTT payload keys plus ``source`` and ``received``)."""
        out = {"t": self.t, "activity": self.activity, "confidence": self.confidence,
               "probabilities": self.probabilities, "model": self.model, "seq": self.seq,
               "source": self.source, "received": self.received}
        out.update(self.extra)
        return out


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedMessage(f"{what} must be a number, not {value!r:.40}")
    if not math.isfinite(value):
        raise MalformedMessage(f"{what} is not finite ({value!r})")
    return float(value)


PROBABILITY_TOLERANCE = 1e-6
"""How far outside 0..1 a probability may lie (float rounding) before its message is malformed."""


def _probability(value: Any, what: str) -> float:
    """A finite number in 0..1 (within :data:`PROBABILITY_TOLERANCE`), else MalformedMessage."""
    p = _number(value, what)
    if not -PROBABILITY_TOLERANCE <= p <= 1 + PROBABILITY_TOLERANCE:
        raise MalformedMessage(f"{what} {p!r} is not in 0..1 (a probability, not a percentage)")
    return p


def parse_pred_line(
    line: str, source: str = "serial", classes: list[str] | None = None
) -> Prediction | None:
    """Parse one console line of the live app.

    Parameters
    ----------
    line : str
        A line of the app's output.
    source : str
        Name of the source (serial port, ``"simulator"``).
    classes : list of str, optional
        The model's classes in output order (names the probabilities;
        default ``p0, p1, ...``).

    Returns
    -------
    Prediction or None
        None for lines that are not predictions (other app messages).

    Raises
    ------
    MalformedMessage
        A ``PRED``/``INVALID`` line with missing or non-numeric fields, a
        probability outside 0..1, or another number of probabilities than
        ``classes``.
    """
    parts = line.strip().split()
    if not parts or parts[0] not in ("PRED", "INVALID"):
        return None
    if len(parts) < 3:
        raise MalformedMessage(
            f"{parts[0]} line with {len(parts) - 1} field(s): {line.strip()!r:.80}")
    try:
        t_value = float(parts[1])
    except ValueError:
        raise MalformedMessage(f"t_start_s {parts[1]!r:.20} is not a number") from None
    t = _number(t_value, "t_start_s")
    if parts[0] == "INVALID":
        return Prediction(t, INVALID_CLASS, 0.0, {}, source, extra={"reason": " ".join(parts[2:])})
    activity, fields = _class_and_fields(parts[2:], classes)
    try:
        activity = from_wire_name(activity)
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from None
    try:
        values = [float(p) for p in fields]
    except ValueError:
        raise MalformedMessage(f"non-numeric probability in {line.strip()!r:.80}") from None
    proba = [_probability(v, "probability") for v in values]
    if not proba:
        raise MalformedMessage(f"PRED line without probabilities: {line.strip()!r:.80}")
    names = list(classes) if classes is not None else [f"p{i}" for i in range(len(proba))]
    if len(names) != len(proba):
        raise MalformedMessage(f"{len(proba)} probabilities for {len(names)} classes: "
                               f"{line.strip()!r:.80}")
    probs = dict(zip(names, proba, strict=True))
    conf = probs.get(activity, max(proba))
    return Prediction(t, activity, conf, probs, source)


_NUMBER_LIKE = re.compile(r"[-+]?(\d|\.\d|nan|inf)", re.IGNORECASE)
"""A word that starts like a number: where a class name ends in a ``PRED`` line read
without the model's classes."""


def _class_and_fields(words: list[str], classes: list[str] | None) -> tuple[str, list[str]]:
    """The class name and the probability fields of a ``PRED`` line's words after the time.

    The app prints a class name as it is, spaces included, but ``%`` and
    control characters as ``%XX`` (the name returned is as printed: the
    caller decodes it, :func:`tinyhar.export.escaping.from_wire_name`). With
    ``classes`` the last ``len(classes)`` words are the probabilities when
    the words before them name a class (decoded); without, the class name is the words up to the
    first word that starts like a number (:data:`_NUMBER_LIKE`). Otherwise
    the first word is the class (the caller then reports what is wrong with
    the rest).
    """
    if classes is not None:
        head = " ".join(words[:len(words) - len(classes)])
        if len(words) > len(classes) + 1 and _decoded(head) in classes:
            return head, words[len(words) - len(classes):]
        return words[0], words[1:]
    k = next((i for i, w in enumerate(words) if _NUMBER_LIKE.match(w)), len(words))
    k = max(k, 1)
    return " ".join(words[:k]), words[k:]


def _decoded(printed: str) -> str | None:
    """:func:`~tinyhar.export.escaping.from_wire_name` of a printed class name; None where
    it is not a valid one."""
    try:
        return from_wire_name(printed)
    except ValueError:
        return None


def _not_json(name: str) -> None:
    """``json.loads``' hook for ``NaN``, ``Infinity`` and ``-Infinity``: JSON has no such
    numbers (and the dashboard's JSON could not carry them on)."""
    raise ValueError(f"{name} is not JSON")


def parse_mqtt_payload(topic: str, payload: bytes | str) -> Prediction:
    """Parse one MQTT message of a board (see the module docstring).

    The source is the topic's second-to-last level (the device id of
    ``tinyhar/<device_id>/activity``), or the whole topic when it has one level.

    Raises
    ------
    MalformedMessage
        Not UTF-8 JSON (``NaN`` and ``Infinity`` are not JSON), not an
        object, a missing key (``t``, ``activity``), a value of the wrong
        type, or a confidence or probability outside 0..1.
    """
    try:
        data = json.loads(payload, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"{topic}: payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MalformedMessage(f"{topic}: payload is a JSON {type(data).__name__}, not an object")
    for key in ("t", "activity"):
        if key not in data:
            raise MalformedMessage(f"{topic}: payload has no {key!r}")
    t = _number(data["t"], f"{topic}: t")
    activity = data["activity"]
    if not isinstance(activity, str) or not activity:
        raise MalformedMessage(f"{topic}: activity must be a non-empty string")
    probs_in = data.get("probabilities", {})
    if not isinstance(probs_in, dict):
        raise MalformedMessage(f"{topic}: probabilities must be an object class -> p")
    probs = {str(k): _probability(v, f"{topic}: probabilities[{k!r}]")
             for k, v in probs_in.items()}
    conf = data.get("confidence", probs.get(activity, 0.0))
    conf = _probability(conf, f"{topic}: confidence")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise MalformedMessage(f"{topic}: seq must be an integer")
    model = data.get("model")
    levels = topic.split("/")
    source = levels[-2] if len(levels) >= 2 else topic
    known = {"t", "activity", "confidence", "probabilities", "seq", "model"}
    extra = {k: v for k, v in data.items() if k not in known}
    return Prediction(t, activity, conf, probs, source, seq,
                      None if model is None else str(model), extra=extra)


@dataclass(frozen=True)
class MqttUrl:
    """A broker and a topic: ``mqtt://host[:port][/topic]``."""

    host: str
    port: int
    topic: str | None

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}" + (f"/{self.topic}" if self.topic else "")


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse ``mqtt://host[:port][/topic/filter]`` (port 1883 by default).

    Everything after the first ``/`` behind the host is the topic, as it
    is (``#`` and ``?`` included: they are MQTT wildcards or topic characters
    here, not a URL fragment or query).

    Raises
    ------
    ConfigError
        Another scheme, no host, a bad port, a user name or password (not
        sent: they were ignored before).
    """
    text = url if "://" in url else "mqtt://" + url
    scheme, _, rest = text.partition("://")
    authority, _, topic = rest.partition("/")  # '#', '?' belong to the topic, not the URL
    parts = urlsplit(f"{scheme}://{authority}")
    if parts.scheme != "mqtt":
        raise ConfigError(f"--mqtt {url}: only mqtt://host[:port]/topic is supported")
    if parts.username is not None or parts.password is not None:  # (the URL not repeated)
        raise ConfigError("--mqtt: a user name or password in the URL is not supported: "
                          "tinyhar live connects without them, so the broker must allow "
                          "anonymous clients (mosquitto: allow_anonymous true)")
    if not parts.hostname:
        raise ConfigError(f"--mqtt {url}: no broker host (mqtt://host[:port]/topic)")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:  # (0 was taken as "no port": 1883)
        raise ConfigError(f"--mqtt {url}: the port must be a number 1..65535")
    return MqttUrl(parts.hostname, port or DEFAULT_MQTT_PORT, topic or None)


def check_topic(topic: str, publish: bool = False) -> str:
    """Check an MQTT topic filter (subscribe), or a topic pattern to publish to.

    MQTT 3.1.1, section 4.7: a topic is UTF-8 text of 1 to 65535 bytes
    without the character U+0000; in a filter ``+`` is a whole level (one
    level, any name) and ``#`` the whole last level (any levels below). A
    pattern to publish to (:class:`~tinyhar.outputs.live.MqttPublisher`)
    gets each ``+`` replaced by the source's name, and cannot hold ``#``.

    Parameters
    ----------
    topic : str
        The topic (filter or pattern).
    publish : bool
        Check a pattern to publish to instead of a filter.

    Returns
    -------
    str
        ``topic``.

    Raises
    ------
    ConfigError
        The rule broken, with the topic.
    """
    what = "topic to publish to" if publish else "topic filter"
    size = len(topic.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= 65535 or "\x00" in topic:
        raise ConfigError(f"--mqtt {what} {topic!r}: a topic is 1 to 65535 bytes of UTF-8 "
                          "text without the character U+0000")
    if publish:
        if "#" in topic:
            raise ConfigError(
                f"--mqtt {what} {topic!r}: '#' matches many topics and cannot be published "
                "to; republishing writes to one topic per source, '+' standing for the "
                "source (default tinyhar/+/activity)")
        return topic
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i < len(levels) - 1):
            raise ConfigError(f"--mqtt {what} {topic!r}: '#' must be the whole last level "
                              "(e.g. tinyhar/#)")
        if "+" in level and level != "+":
            raise ConfigError(f"--mqtt {what} {topic!r}: '+' must be a whole level "
                              "(e.g. tinyhar/+/activity)")
    return topic
