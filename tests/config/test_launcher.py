"""The launcher as a user meets it: `python -m config.launcher …` in a real process."""

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
import pytest

from tests.conftest import BASE_DIR, children_database_url, free_port, shell_free_environ, wait_until


def launch(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.launcher", *args],
        cwd=BASE_DIR,
        env={**shell_free_environ(), **(env or {})},
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


def _cmdline(process: psutil.Process) -> str:
    """A child's command line, or "" for one that is exiting (zombie) or gone."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _start(command: str, tmp_path, **extra: str) -> subprocess.Popen[str]:
    """`python -m config.launcher <command>` on a free port against the test database."""
    env = {
        **shell_free_environ(),
        "DATABASE_URL": children_database_url(),
        "PORT": str(free_port()),
        "SEISMO_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "1",
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", command],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.port = int(env["PORT"])  # type: ignore[attr-defined]
    return proc


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _stop_tree(proc: subprocess.Popen[str]) -> None:
    """Kill a launcher that did not stop by itself, and every process it started: an orphaned
    worker or beat would keep consuming the test queue for the rest of the suite."""
    if proc.poll() is not None:
        return
    children = _descendants(proc.pid)
    proc.kill()
    proc.wait()
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


def _none_left(children: list[psutil.Process]) -> bool:
    time.sleep(0.5)
    return not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_serves_and_ctrl_c_stops_every_process(tmp_path):
    proc = _start(
        "run", tmp_path, WEB_CONCURRENCY="2", DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD="boss-pass-1"
    )
    banner = f"Seismo is running at http://127.0.0.1:{proc.port}/"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{proc.port}/readyz"), timeout=90, interval=0.5)
        # The launcher prints the banner once its own poll sees the web answer: wait for what
        # the user waits for (under load /readyz can answer the test's poll first).
        wait_until(lambda: banner in "".join(lines), timeout=30, interval=0.25)
        children = _descendants(proc.pid)
        names = " ".join(_cmdline(child) for child in children)
        assert names.count("daphne") == 2 and "worker" in names and "beat" in names
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
        reader.join(timeout=10)
    finally:
        _stop_tree(proc)
    output = "".join(lines)
    assert proc.returncode == 0, output
    assert "Log in as boss" in output and "boss-pass-1" not in output
    assert _none_left(children)


def test_services_start_and_stop_the_embedded_servers_on_their_own(tmp_path):
    env = {"SEISMO_DATA_DIR": str(tmp_path)}
    clean = {k: v for k, v in shell_free_environ().items() if k not in ("DATABASE_URL", "REDIS_URL")}
    started = subprocess.run(
        [sys.executable, "-m", "config.launcher", "services", "start"],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert started.returncode == 0, started.stderr
        assert "started embedded postgres and redis" in started.stdout
        assert "DATABASE_URL=postgres://" in started.stdout and "REDIS_URL=unix://" in started.stdout
        assert (tmp_path / "run" / "services.env").exists()
    finally:
        stopped = subprocess.run(
            [sys.executable, "-m", "config.launcher", "services", "stop"],
            cwd=BASE_DIR,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (tmp_path / "run" / "services.env").exists()
    assert_one_clear_line(launch("services", "restart"), "unknown services action")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_prepare_then_web_serve_like_the_containers_do(tmp_path):
    port = free_port()
    env = {
        **shell_free_environ(),
        "DATABASE_URL": children_database_url(),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "SEISMO_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    prepared = subprocess.run(
        [sys.executable, "-m", "config.launcher", "prepare"], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert prepared.returncode == 0, prepared.stderr
    assert "Created admin user 'admin'" in prepared.stdout
    web = _start("web", tmp_path, WEB_CONCURRENCY="1", DJANGO_SETTINGS_MODULE="config.settings.test")
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{web.port}/healthz"), timeout=60, interval=0.3)
        children = _descendants(web.pid)
        assert any("daphne" in _cmdline(child) for child in children)
        web.send_signal(signal.SIGTERM)
        output, _ = web.communicate(timeout=30)
    finally:
        _stop_tree(web)
    assert web.returncode == 0, output
    assert f"web listening on 127.0.0.1:{web.port} with 1 daphne process(es)" in output
    assert _none_left(children)


@pytest.mark.django_db
def test_benchmarks_get_their_own_database():
    import psycopg

    from config.launcher import bench_database

    url = bench_database(children_database_url())
    assert url.endswith("_bench") and url == bench_database(children_database_url())  # idempotent
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0].endswith("_bench")


def supervise_until(supervisor, restarts: int, capsys, timeout: float = 60) -> list[str]:
    """Run supervision passes until ``restarts`` restart lines were said (or a crash loop)."""
    said: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.check() is not None:
            break
        said += [line for line in capsys.readouterr().out.splitlines() if "restarting it" in line]
        if len(said) >= restarts:
            break
        time.sleep(0.05)
    return said


def test_a_child_that_ran_fine_is_restarted_at_once_and_one_that_cannot_start_backs_off(capsys, monkeypatch):
    from config import launcher

    monkeypatch.setattr(launcher, "STARTUP_SECONDS", 2.0)
    supervisor = launcher.Supervisor()
    try:
        # Killed (here: exits) after running past its startup time, three times in a minute.
        supervisor.spawn("steady", ["sh", "-c", "sleep 3; exit 3"])
        said = supervise_until(supervisor, 3, capsys)
        assert said == [
            "seismo: steady exited with code 3; restarting it (restart 1, in 0 s)",
            "seismo: steady exited with code 3; restarting it (restart 2, in 0 s)",
            "seismo: steady exited with code 3; restarting it (restart 3, in 0 s)",
        ]
        supervisor.stop_all()
        supervisor.children.clear()

        supervisor.spawn("broken", ["sh", "-c", "exit 4"])
        said = supervise_until(supervisor, 3, capsys)
        assert said == [
            "seismo: broken exited with code 4; restarting it (restart 1, in 0 s)",
            "seismo: broken exited with code 4; restarting it (restart 2, in 1 s)",
            "seismo: broken exited with code 4; restarting it (restart 3, in 2 s)",
        ]
    finally:
        supervisor.stop_all()


def test_a_restarted_child_never_meets_what_its_predecessor_left_running(capsys):
    # PostgreSQL's backends outlive a killed postmaster for a moment; a new postmaster that
    # still sees them refuses to start. The launcher kills the old group and waits it out.
    from config import launcher

    supervisor = launcher.Supervisor()
    try:
        supervisor.spawn("leaver", ["sh", "-c", "sleep 60 & sleep 2; exit 5"])
        first = supervisor.children["leaver"].process
        leftover = wait_until(lambda: psutil.Process(first.pid).children(), timeout=30)[0]
        assert supervise_until(supervisor, 1, capsys) == [
            "seismo: leaver exited with code 5; restarting it (restart 1, in 0 s)"
        ]
        supervise_until(supervisor, 0, capsys, timeout=0.5)  # the restart itself (due at once)
        assert supervisor.children["leaver"].process is not first
        assert not leftover.is_running() or leftover.status() == psutil.STATUS_ZOMBIE
    finally:
        supervisor.stop_all()


def test_each_child_names_its_database_connections(tmp_path):
    # pg_stat_activity.application_name then says which process holds a backend.
    from config import launcher

    supervisor = launcher.Supervisor()
    out = tmp_path / "name"
    try:
        supervisor.spawn("worker", ["sh", "-c", f'printf %s "$PGAPPNAME" > {out}.tmp && mv {out}.tmp {out}; sleep 30'])
        assert wait_until(out.exists, timeout=30)
        assert out.read_text() == "seismo worker"
    finally:
        supervisor.stop_all()
