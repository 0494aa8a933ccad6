"""Samples as columns, the shape the high-volume doors hand to ingest.

A door decodes a request into ``keys`` (one per series, in whatever raw form is cheapest to
hash: undecoded protobuf label bytes, a text-format series string) and three parallel arrays
(which key each sample belongs to, its timestamp, its value). Ingest maps keys to series ids
through a per-door cache and decodes a key into a name and labels only the first time it
sees it, so a steady stream of known series costs no per-label Python work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np


class DoorError(Exception):
    """A request a door cannot take at all: the message says why; ``status`` is the HTTP answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass
class Columns:
    keys: list[Hashable]
    # key → (metric name, labels); raises ValueError with the reason a key is not a valid series.
    decode: Callable[[Hashable], tuple[str, dict[str, str]]]
    series_index: np.ndarray  # int64, one per sample: its position in ``keys``
    ts_ms: np.ndarray  # int64 milliseconds since the epoch
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class KeyCache:
    """A door's raw series key → series id (or the reason it was refused), per process."""

    limit: int = 200_000
    ids: dict[Hashable, int] = field(default_factory=dict)
    refused: dict[Hashable, str] = field(default_factory=dict)
    # series id → (metric, labels), for what the writer tells after commit.
    described: dict[int, tuple[str, dict[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(
        self, ids: dict[Hashable, int], refused: dict[Hashable, str], described: dict[int, tuple[str, dict[str, str]]]
    ) -> None:
        with self.lock:
            if len(self.ids) + len(ids) > self.limit:
                self.ids.clear()
                self.described.clear()
            self.described.update(described)
            if len(self.refused) + len(refused) > self.limit // 10:
                self.refused.clear()
            self.ids.update(ids)
            self.refused.update(refused)

    def clear(self) -> None:
        with self.lock:
            self.ids.clear()
            self.refused.clear()
            self.described.clear()
