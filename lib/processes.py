"""The child processes tests and benches start: a free loopback port, a process group started
and stopped as one, the Celery worker's command line and headless Chromium's flags."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from config.launcher import worker_argv

BASE_DIR = Path(__file__).resolve().parent.parent

# Real Chromium (Debian's package), driven by Playwright: how every browser test and bench
# launches it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium (Debian's) from a started Playwright (``sync_playwright()``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 (free when asked; bind it soon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``; RuntimeError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def start_group(
    argv: list[str], env: dict[str, str], log: IO[bytes] | int, cwd: Path = BASE_DIR
) -> subprocess.Popen[bytes]:
    """Start ``argv`` from the project's folder (or ``cwd``) in a session of its own (so
    ``stop_group`` reaches its children too), stdout and stderr into ``log``."""
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Send ``sig`` to the process group of a running ``proc``, wait up to ``timeout`` seconds,
    then kill the group; returns its exit code."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            proc.wait()
    return proc.returncode


def celery_worker_argv(node: str, concurrency: int = 4, loglevel: str = "INFO") -> list[str]:
    """The launcher's own Celery worker command line, named ``node``, with this concurrency and
    log level (whatever the shell's ``CELERY_*`` variables say)."""
    argv = worker_argv()
    for option, value in (("--concurrency", str(concurrency)), ("--loglevel", loglevel), ("--hostname", node)):
        argv[argv.index(option) + 1] = value
    return argv
