"""One shard of a multi-process load test: ``python -m loadtest.shard_process``, spec on stdin.

Started by ``loadtest.shards.ProcessShards``; no Django here, only the engine and Redis. The
spec (JSON) names the shard's config, the Redis URL and the keys: it reports ``ready``, waits
for the common start time, reports each second's tally (counts and the HDR histogram's
compressed base64 encoding) and finally its totals — or its error — to the reports list. It
stops when the run's stop flag appears or when its parent (the coordinating worker) dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import traceback
from typing import Any

import redis

from loadtest.engine import Totals, run_load
from loadtest.tally import Tally


def main() -> int:
    spec = json.load(sys.stdin)
    client = redis.Redis.from_url(spec["redis_url"], socket_timeout=5, socket_connect_timeout=5)
    shard = int(spec["shard"])

    def report(record: dict[str, Any]) -> None:
        client.rpush(spec["reports_key"], json.dumps({"shard": shard, **record}))

    try:
        report({"ready": True})
        item = client.blpop([spec["go_key"]], timeout=60)
        if item is None:
            report({"error": "no start signal within 60 s"})
            return 1
        checked = [0.0, False]

        def should_stop() -> bool:
            now = time.monotonic()
            if now - checked[0] >= 0.1:
                orphaned = os.getppid() != spec["parent"]
                checked[0], checked[1] = now, orphaned or bool(client.exists(spec["stop_key"]))
            return bool(checked[1])

        def on_second(second: int, users: int, tally: Tally, totals: Totals) -> None:
            report({"second": second, "users": users, **tally.to_json()})

        totals = asyncio.run(
            run_load(spec["config"], int(spec["run_id"]), on_second, should_stop, start_at=float(item[1]))
        )
        report(
            {
                "end": True,
                "users": totals.max_users,
                "failures_by_kind": totals.failures_by_kind,
                "seconds": totals.seconds,
                **totals.tally.to_json(),
            }
        )
    except Exception as exc:
        traceback.print_exc()
        # If Redis is gone too, the coordinator sees the exit code and the last line of stderr.
        with contextlib.suppress(redis.RedisError):
            report({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
