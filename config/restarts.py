"""The restart record: the launcher writes which child it restarted, the web reads it.

One small JSON file under ``SEISMO_DATA_DIR/run/`` (replaced atomically on every restart):
``/metrics`` turns it into ``seismo_restarts_total{process}`` and the overview lists the
recent restarts. Without the launcher (Docker Compose restarts containers itself) there is no
file and nothing to show. No Django imports: the launcher runs before Django is set up.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, TypedDict

RECENT_KEPT = 20


class Restart(TypedDict):
    process: str
    exit_code: int | None
    at: float
    restart: int


def restarts_file(data_dir: Path) -> Path:
    return data_dir / "run" / "restarts.json"


class RestartLog:
    """The launcher's side: counts per process since this launcher started."""

    def __init__(self, data_dir: Path, processes: list[str]) -> None:
        self.path = restarts_file(data_dir)
        self.counts: dict[str, int] = dict.fromkeys(processes, 0)
        self.recent: list[Restart] = []
        self._write()

    def register(self, processes: list[str]) -> None:
        for process in processes:
            self.counts.setdefault(process, 0)
        self._write()

    def record(self, process: str, exit_code: int | None) -> int:
        """Count one restart of ``process``; returns its restart number."""
        count = self.counts[process] = self.counts.get(process, 0) + 1
        entry: Restart = {"process": process, "exit_code": exit_code, "at": time.time(), "restart": count}
        self.recent = [*self.recent, entry][-RECENT_KEPT:]
        self._write()
        return count

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps({"counts": self.counts, "recent": self.recent}))
        os.replace(scratch, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def read_restarts(data_dir: Path) -> dict[str, Any]:
    """The web's side: ``{"counts": {process: n}, "recent": [Restart, …]}`` (newest last), or
    empty when no launcher supervises this installation."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(restarts_file(data_dir).read_text())
        if isinstance(data, dict):
            return {"counts": dict(data.get("counts") or {}), "recent": list(data.get("recent") or [])}
    return {"counts": {}, "recent": []}
