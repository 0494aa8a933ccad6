"""Compact metric frames for the live stream.

A batch of samples travels as a *schema* — the list of ``[metric, labels]`` pairs, named by a
short hash — plus bare numbers in the same order. The producer always publishes both (the
Redis message stays self-contained); each socket's ``Encoder`` leaves the schema out once that
socket has it, so a collector batch whose series do not change (the usual case: the same host,
the same metrics, every tick) costs a few bytes per value instead of a label dictionary per
value. ``Decoder`` is the reference client (static/js/stream.js does the same in the browser)
and turns frames back into ``samples: [{"metric", "labels", "value"}]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson


class UnknownSchemaError(ValueError):
    """A frame named a schema this decoder has not been sent (a bug, or state lost)."""


def schema_id(series: Sequence[Sequence[Any]]) -> str:
    return hashlib.blake2b(orjson.dumps(series, option=orjson.OPT_SORT_KEYS), digest_size=6).hexdigest()


def pack(ts: float, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The payload producers publish for one batch of ``{"metric", "labels", "value"}``."""
    series = [[s["metric"], s.get("labels") or {}] for s in samples]
    return {"ts": ts, "schema": schema_id(series), "series": series, "values": [s["value"] for s in samples]}


class Encoder:
    """One per socket: which schema of each topic this socket already holds."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def needs_series(self, topic: str, schema: str | None) -> bool:
        """Whether this socket's next frame of ``topic`` must carry its series (and, if so,
        that it will have them from now on). ``None``: not a packed batch."""
        if schema is None:
            return True
        if self.known.get(topic) == schema:
            return False
        self.known[topic] = schema
        return True

    def encode(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.needs_series(topic, payload.get("schema")):
            return payload
        return {key: value for key, value in payload.items() if key != "series"}

    def forget(self, topic: str) -> None:
        """After an unsubscribe: the next subscription starts with the schema again."""
        self.known.pop(topic, None)


class Decoder:
    """The client side: remembers each topic's schema and expands frames into samples."""

    def __init__(self) -> None:
        self.schemas: dict[str, tuple[str, list[Any]]] = {}

    def decode(self, frame: dict[str, Any]) -> dict[str, Any]:
        schema = frame.get("schema")
        if schema is None:
            return frame
        topic = frame["topic"]
        if "series" in frame:
            self.schemas[topic] = (schema, frame["series"])
        known = self.schemas.get(topic)
        if known is None or known[0] != schema:
            raise UnknownSchemaError(f"no schema {schema} for {topic}")
        out = {key: value for key, value in frame.items() if key not in ("schema", "series", "values")}
        out["samples"] = [
            {"metric": metric, "labels": labels, "value": value}
            for (metric, labels), value in zip(known[1], frame["values"], strict=True)
        ]
        return out
