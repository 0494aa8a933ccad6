"""`make bench compare BENCH_ARGS="--against ../seismo-old"`: did a change make a door slower,
or is it the machine?

One figure of `make bench` swings by a fifth between runs on the same code and host (the doors
share two cores with PostgreSQL), more than most changes move it, so two BENCHMARKS.md files
cannot say whether something got slower. This asks it directly: one door, this checkout and
another, one database, rounds alternating (A B, B A, A B, …). Each round starts that checkout's
own web (2 daphne processes, as `make bench` does), warms its series caches, sends the same
bodies into an empty table and stops it. Printed: every round, both medians, their ratio, and
how often a round of this checkout beat one of the other (0.5 is a coin toss).

The other checkout: `git worktree add ../seismo-old <commit>` with a `.venv` of its own or a
link to this one; both must work on the same migrations. Writes var/BENCHMARKS-compare.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import User

from accounts.models import ApiToken
from bench.bench_doors import (
    HOSTS,
    JSON_HEADERS,
    OTLP_HEADERS,
    PER_REQUEST,
    RW_HEADERS,
    _send,
    _truncate,
    otlp_bodies,
    remote_write_bodies,
)
from bench.bench_ingest import BASE_DIR, _bodies, _start_web
from lib.processes import free_port, stop_group


@dataclass(frozen=True)
class Door:
    path: str
    headers: dict[str, str]
    ok: int
    default_size: int


DOORS = {
    "remote-write": Door("/api/v1/write", RW_HEADERS, 204, 2_000_000),
    "otlp": Door("/otlp/v1/metrics", OTLP_HEADERS, 200, 1_000_000),
    "json": Door("/api/v1/ingest/", JSON_HEADERS, 202, 500_000),
}


def _load(door: str, size: int, now: float) -> tuple[list[bytes], list[bytes]]:
    """(warm-up bodies that show every series once, measured bodies) for ``door``."""
    warm = HOSTS * PER_REQUEST * 4
    if door == "remote-write":
        return remote_write_bodies(warm, int((now - 3000) * 1000)), remote_write_bodies(size, int((now - 2400) * 1000))
    if door == "otlp":
        return otlp_bodies(warm, int((now - 5400) * 1e9)), otlp_bodies(size, int((now - 4200) * 1e9))
    return _bodies(warm, now - 7200), _bodies(size, now - 6000)


def order(rounds: int) -> list[str]:
    """A B, B A, A B, …: a drift of the machine during the run falls on both alike."""
    sequence: list[str] = []
    for n in range(rounds):
        sequence += ["this", "other"] if n % 2 == 0 else ["other", "this"]
    return sequence


def beats(ours: list[float], theirs: list[float]) -> float:
    """The share of (our round, their round) pairs in which ours was faster."""
    return sum(a > b for a in ours for b in theirs) / (len(ours) * len(theirs))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make bench compare")
    parser.add_argument("--against", required=True, type=Path, help="the other checkout's folder")
    parser.add_argument("--door", choices=sorted(DOORS), default="remote-write")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per checkout")
    parser.add_argument("--size", type=int, help="samples (points) per round")
    args = parser.parse_args(argv)
    other = args.against.resolve()
    if not (other / "config" / "launcher.py").is_file():
        parser.error(f"{other} is not a Seismo checkout")
    door = DOORS[args.door]
    size = args.size or door.default_size
    checkouts = {"this": BASE_DIR, "other": other}
    user, _ = User.objects.get_or_create(username="bench-compare", defaults={"is_superuser": True})
    _, token = ApiToken.issue(user, name="bench-compare")
    warm, bodies = _load(args.door, size, time.time())
    rates: dict[str, list[float]] = {"this": [], "other": []}
    for name in order(args.rounds):
        port = free_port()
        web = _start_web(port, 2, checkout=checkouts[name])
        try:
            url = f"http://127.0.0.1:{port}{door.path}"
            asyncio.run(_send(url, token, warm, door.headers, door.ok))
            _truncate()
            elapsed, failed = asyncio.run(_send(url, token, bodies, door.headers, door.ok))
        finally:
            stop_group(web, timeout=30)
        if failed:
            print(f"{name}: {failed} requests answered other than {door.ok}; see var/bench-web.log")
            return 1
        rates[name].append(size / elapsed)
        print(f"{name:>5} ({checkouts[name]}): {size / elapsed:,.0f}/s", flush=True)
    ours, theirs = statistics.median(rates["this"]), statistics.median(rates["other"])
    lines = [
        f"# {args.door}: {BASE_DIR} against {other}",
        "",
        f"{args.rounds} rounds each, alternating, {size:,} per round, 2 daphne processes.",
        "",
        "| checkout | median /s | rounds /s |",
        "|---|---|---|",
        *(
            f"| {checkouts[name]} | {statistics.median(rates[name]):,.0f} | "
            f"{', '.join(f'{rate:,.0f}' for rate in rates[name])} |"
            for name in ("this", "other")
        ),
        "",
        f"Ratio of medians {ours / theirs:.3f}; a round of this checkout beat one of the other in "
        f"{beats(rates['this'], rates['other']):.0%} of pairs (50 %: no difference).",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    (BASE_DIR / "var").mkdir(exist_ok=True)
    (BASE_DIR / "var" / "BENCHMARKS-compare.md").write_text(report)
    return 0
