"""Tally: the counts and HDR latency histogram of a set of requests (one second, one shard, a
whole run); tallies from other threads or processes merge exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_MICROS = 120_000_000  # the histogram's range: up to 2 minutes


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_MICROS, 3)  # microseconds, 3 significant digits


@dataclass
class Tally:
    requests: int = 0
    failures: int = 0
    bytes: int = 0
    histogram: HdrHistogram = field(default_factory=_histogram)

    def record(self, micros: int, ok: bool, size: int) -> None:
        self.requests += 1
        self.bytes += size
        if not ok:
            self.failures += 1
        self.histogram.record_value(max(1, min(micros, MAX_MICROS)))

    def percentile_ms(self, p: float) -> float | None:
        if not self.requests:
            return None
        return self.histogram.get_value_at_percentile(p) / 1000

    def merge(self, other: Tally) -> None:
        """Add ``other`` in: HDR histograms merge exactly, so merged percentiles stay right."""
        self.requests += other.requests
        self.failures += other.failures
        self.bytes += other.bytes
        if other.requests:
            self.histogram.add(other.histogram)

    def to_json(self) -> dict[str, Any]:
        """Counts and the histogram in HdrHistogram's compressed base64 form (for another process)."""
        return {
            "requests": self.requests,
            "failures": self.failures,
            "bytes": self.bytes,
            "hist": self.histogram.encode().decode() if self.requests else "",
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        tally = cls(requests=int(data["requests"]), failures=int(data["failures"]), bytes=int(data["bytes"]))
        if data.get("hist"):
            tally.histogram.decode_and_add(data["hist"])
        return tally
