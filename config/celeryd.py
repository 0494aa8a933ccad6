"""Starts the Celery worker or beat in this process: ``python -m config.celeryd worker|beat``.

The launcher's ``worker`` and ``beat`` commands run this, not Celery's own command line: that one
imports every subcommand, its click plugins and REPL (prompt_toolkit) and scans the installed
packages' entry points — about 10 MB of memory in each of the two processes, for nothing they
use. The options are the few the launcher passes.
"""

from __future__ import annotations

import argparse
import sys

from celery.utils.nodenames import default_nodename, host_format

from config.beat import app as beat_app
from config.celery import app


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.celeryd")
    parser.add_argument("role", choices=("worker", "beat"))
    parser.add_argument("--loglevel", default="WARNING")
    parser.add_argument("--concurrency", type=int, default=8, help="worker threads")
    parser.add_argument("--hostname", default=None, help="worker node name (%%h: this host)")
    parser.add_argument("--schedule", default="celerybeat-schedule", help="beat's schedule file")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    options = parse(argv)
    if options.role == "beat":
        beat_app.Beat(
            scheduler="config.beat:HeartbeatScheduler", schedule=options.schedule, loglevel=options.loglevel
        ).run()
        return 0
    worker = app.Worker(
        hostname=host_format(default_nodename(options.hostname)),
        pool_cls="threads",
        concurrency=options.concurrency,
        loglevel=options.loglevel,
        # Workers share no state that needs a start-up sync (mingle) or gossip: both cost broker traffic.
        without_mingle=True,
        without_gossip=True,
        # Heartbeat events (one publish every 2 s) feed event monitors such as Flower; nothing here
        # reads them (celery_workers and /readyz ping through the control mailbox).
        without_heartbeat=True,
    )
    worker.start()
    return worker.exitcode or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
