"""The child-process helpers tests and benches share."""

from __future__ import annotations

import socket
import sys

from config.launcher import worker_argv
from lib.processes import celery_worker_argv, free_port, start_group, stop_group, wait_port
from tests.conftest import wait_until


def test_a_free_port_can_be_bound_and_is_waited_for_once_something_listens():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        wait_port(port, timeout=5)


def test_stopping_a_group_ends_the_child_and_the_grandchild_it_started(tmp_path):
    pid_file = tmp_path / "grandchild"
    script = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(60)"
    )
    with open(tmp_path / "log", "wb") as log:
        proc = start_group([sys.executable, "-c", script], {}, log)
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=20)
        grandchild = int(pid_file.read_text())
        assert stop_group(proc, timeout=10) != 0
    # The grandchild was in the group: it ends too (gone, or a zombie its dead parent left).
    wait_until(lambda: _ended(grandchild), timeout=20)


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_worker_command_line_is_the_launchers_with_the_asked_name_and_log_level():
    argv = celery_worker_argv("t@%h", concurrency=2, loglevel="WARNING")
    assert argv[argv.index("--hostname") + 1] == "t@%h"
    assert argv[argv.index("--concurrency") + 1] == "2"
    assert argv[argv.index("--loglevel") + 1] == "WARNING"
    assert _options_dropped(argv) == _options_dropped(worker_argv())


def _options_dropped(argv: list[str]) -> list[str]:
    """The command line without the values this helper sets."""
    return [a for i, a in enumerate(argv) if i == 0 or argv[i - 1] not in ("--hostname", "--concurrency", "--loglevel")]
