"""The launcher as a user meets it: `python -m config.launcher …` in a real process."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import BASE_DIR, children_database_url, free_port, wait_until


def launch(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.launcher", *args],
        cwd=BASE_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("seismo: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_a_malformed_database_url_stops_with_one_line():
    result = launch("run", env={"DATABASE_URL": "mysql//oops", "PORT": str(free_port())})
    assert_one_clear_line(result, "DATABASE_URL", "malformed")


def test_a_malformed_redis_url_stops_with_one_line():
    result = launch("run", env={"REDIS_URL": "http://x", "PORT": str(free_port())})
    assert_one_clear_line(result, "REDIS_URL")


def test_an_unwritable_data_dir_stops_with_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = launch("run", env={"SEISMO_DATA_DIR": str(blocker / "data"), "PORT": str(free_port())})
    assert_one_clear_line(result, "SEISMO_DATA_DIR", "not writable")


def test_a_port_in_use_stops_with_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = launch("run", env={"PORT": str(port)})
    assert_one_clear_line(result, f"port {port}", "in use")


def test_a_bad_port_or_concurrency_value_stops_with_one_line():
    assert_one_clear_line(launch("run", env={"PORT": "eighty"}), "PORT")
    assert_one_clear_line(launch("run", env={"PORT": str(free_port()), "WEB_CONCURRENCY": "0"}), "WEB_CONCURRENCY")


def test_an_unknown_command_is_refused():
    result = launch("fly")
    assert_one_clear_line(result, "unknown command")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_serves_and_ctrl_c_stops_every_process(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": children_database_url(),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "SEISMO_DATA_DIR": str(tmp_path),
        "DJANGO_SUPERUSER_USERNAME": "boss",
        "DJANGO_SUPERUSER_PASSWORD": "boss-pass-123",
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "run"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_until(ready, timeout=90, interval=0.5)
        children = _descendants(proc.pid)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        assert names.count("daphne") == 2 and "worker" in names and "beat" in names
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "Seismo is running at http://127.0.0.1:" in output
    assert "Log in as boss" in output and "boss-pass-123" not in output
    time.sleep(0.5)
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_stops_everything_when_one_process_dies(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": children_database_url(),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "SEISMO_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "run"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: any("beat" in " ".join(c.cmdline()) for c in _descendants(proc.pid)), timeout=60)
        children = _descendants(proc.pid)
        beat = next(c for c in children if "beat" in " ".join(c.cmdline()))
        beat.kill()
        output, _ = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert "beat exited with code" in output and "stopping everything" in output
    time.sleep(0.5)
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
