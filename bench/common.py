"""Shared benchmark helpers: results, medians, tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.test.utils import override_settings

from monitoring import tasks
from monitoring.models import Compaction, RollupState


@dataclass
class Result:
    """One measured figure beside the anchor it is compared with (same run)."""

    name: str
    value: float
    unit: str
    anchor_name: str = ""
    anchor_value: float | None = None
    goal: str = ""
    met: bool | None = None
    notes: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.anchor_value in (None, 0):
            return None
        return self.value / self.anchor_value


@contextmanager
def arriving_on_time() -> Iterator[None]:
    """Samples written inside land as raw rows whatever their age, as each did on a live
    instance, where it arrived while still inside the hot window (and not in the late table,
    where a bench writing a day of history in one go would otherwise put it)."""
    with override_settings(STORAGE_HOT_WINDOW_SECONDS=30 * 86400):
        yield


STORE_TABLES = ("monitoring_sample", "monitoring_sample_late", "monitoring_chunk", "monitoring_rollup_1m")


def forget_samples(series_ids: list[int]) -> None:
    """Remove an earlier bench run's samples of these series from every tier (hot rows, late
    rows, chunks, 1-minute rollups), so that each run reads the same data."""
    with connection.cursor() as cursor:
        for table in STORE_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", [series_ids])  # noqa: S608 (table names above)


def settle_like_beat(since: datetime) -> dict[str, Any]:
    """Run beat's own storage tasks over history written since ``since`` (``arriving_on_time``):
    the 1-minute rollups, then compaction. Afterwards the store holds what a live instance
    holds after its schedule ran: chunks for every hour past the hot window, raw rows inside
    it, rollups up to the last minute, and no late rows."""
    RollupState.objects.update_or_create(name="1m", defaults={"watermark": since})
    # A live instance compacted each hour as it passed; the history lies before the last run's watermark.
    Compaction.objects.all().delete()
    tasks.rollup_minutes()
    return tasks.compact()


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def median_ms(runs: int, fn: Callable[[], object]) -> float:
    """The median wall time of ``runs`` calls of ``fn``, in milliseconds."""
    return median_of(runs, lambda: timed(fn) * 1000)[0]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def render_table(results: list[Result]) -> str:
    rows = [("figure", "value", "anchor", "anchor value", "ratio", "goal", "met")]
    for r in results:
        rows.append(
            (
                r.name,
                f"{_fmt(r.value)} {r.unit}",
                r.anchor_name or "—",
                _fmt(r.anchor_value),
                _fmt(r.ratio),
                r.goal or "—",
                {True: "yes", False: "NO", None: "—"}[r.met],
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


def render_markdown(sections: list[tuple[str, list[Result], float]], machine: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {now}. Machine: {machine}.",
        "Every figure is a median over repeated runs, beside its anchor measured in the same run.",
        "",
    ]
    for name, results, seconds in sections:
        out += [f"## {name}", "", f"(took {seconds:.0f} s)", ""]
        out += [
            "| figure | value | anchor | anchor value | ratio | goal | met | notes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in results:
            met = {True: "yes", False: "**no**", None: "—"}[r.met]
            out.append(
                f"| {r.name} | {_fmt(r.value)} {r.unit} | {r.anchor_name or '—'} | {_fmt(r.anchor_value)} | "
                f"{_fmt(r.ratio)} | {r.goal or '—'} | {met} | {r.notes} |"
            )
        out.append("")
    return "\n".join(out)
