"""`make run` repairs itself: kill -9 of any child while a client ingests, a crash loop, Redis
losing its queue. Real processes, the embedded PostgreSQL and Redis as `make run` starts them."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from accounts.models import USER_TOKEN_PREFIX
from config.embedded import EmbeddedPostgres, EmbeddedRedis, celery_broker_url
from tests.conftest import BASE_DIR, children_database_url, free_port, shell_free_environ, wait_until

# Variables the test settings export for the suite's own process, not for a user's `make run`.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DB_POOL", "REDIS_KEY_PREFIX", "DEBUG")
USER, PASSWORD = "healer", "healer-pass-1"


def make_run(data_dir: Path, **extra: str) -> subprocess.Popen[str]:
    """`python -m config.launcher run` as `make run` starts it (embedded servers, free port)."""
    env = {key: value for key, value in shell_free_environ().items() if key not in _NOT_INHERITED}
    env.update(
        HOST="127.0.0.1",
        PORT=str(free_port()),
        SEISMO_DATA_DIR=str(data_dir),
        WEB_CONCURRENCY="2",
        DJANGO_SUPERUSER_USERNAME=USER,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "run"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc.base = f"http://127.0.0.1:{env['PORT']}"  # type: ignore[attr-defined]
    proc.lines = []  # type: ignore[attr-defined]
    threading.Thread(target=lambda: proc.lines.extend(proc.stdout), daemon=True).start()  # type: ignore
    return proc


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def ready(base: str) -> bool:
    return http("GET", f"{base}/readyz")[0] == 200


def children(proc: subprocess.Popen[str]) -> dict[str, psutil.Process]:
    """The launcher's direct children by role (web-a / web-b oldest first; pids wrap around)."""
    found: dict[str, psutil.Process] = {}
    webs = []
    for child in psutil.Process(proc.pid).children():
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "daphne_server" in line:
            with contextlib.suppress(psutil.Error):
                webs.append((child.create_time(), child.pid, child))
        elif " worker " in line:
            found["worker"] = child
        elif " beat " in line:
            found["beat"] = child
        elif "redis-server" in line:
            found["redis"] = child
        elif "/postgres " in line:
            found["postgres"] = child
    for name, child in zip(("web-a", "web-b"), (web for *_, web in sorted(webs)), strict=False):
        found[name] = child
    return found


class Ingester(threading.Thread):
    """A client that ingests numbered batches and retries each until it is acknowledged."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.acked: list[float] = []
        self.stop = threading.Event()
        self.origin = time.time() - 600

    def run(self) -> None:
        batch = 0
        while not self.stop.is_set():
            stamps = [self.origin + batch + i / 100 for i in range(20)]
            body = {
                "samples": [{"metric": "heal_probe", "labels": {"c": "1"}, "value": batch, "ts": t} for t in stamps]
            }
            status, _ = http("POST", f"{self.base}/api/v1/ingest/", body, self.token)
            if status == 202:
                self.acked.extend(stamps)
                batch += 1
            else:
                time.sleep(0.2)

    def acked_since(self, mark: int) -> bool:
        return len(self.acked) > mark


def stored_stamps(data_dir: Path) -> list[float]:
    pg = EmbeddedPostgres(data_dir)
    with psycopg.connect(host=str(pg.socket_dir), user="postgres", dbname="seismo") as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM s.ts)::float8 FROM monitoring_sample s JOIN monitoring_series se "
            "ON se.id = s.series_id JOIN monitoring_metric m ON m.id = se.metric_id WHERE m.name = 'heal_probe'"
        ).fetchall()
    return [row[0] for row in rows]


def attempt(action: Any) -> Any:
    """``action()``, or None when it fails (a client whose pooled connection Redis dropped)."""
    from kombu import pools

    try:
        return action()
    except Exception:
        pools.reset()
        return None


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    time.sleep(0.2)
    return "".join(proc.lines)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_every_child_killed_in_turn_is_restarted_and_no_acknowledged_batch_is_lost(tmp_path):
    proc = make_run(tmp_path)
    base = proc.base  # type: ignore[attr-defined]
    try:
        wait_until(lambda: ready(base), timeout=150, interval=0.5)
        token = http("POST", f"{base}/api/v1/auth/token/", {"username": USER, "password": PASSWORD})[1]["token"]
        client = Ingester(base, token)
        client.start()
        wait_until(lambda: client.acked_since(100), timeout=30)
        assert set(children(proc)) == {"web-a", "web-b", "worker", "beat", "redis", "postgres"}

        # Both daphne processes (the oldest one, twice), then every other child.
        for role in ("web-a", "web-a", "worker", "beat", "postgres", "redis"):
            victim = children(proc)[role]
            mark = len(client.acked)
            victim.kill()
            try:
                wait_until(lambda v=victim: len(children(proc)) == 6 and v not in children(proc).values(), timeout=30)
                wait_until(lambda: ready(base), timeout=60, interval=0.5)
                wait_until(lambda m=mark: client.acked_since(m + 40), timeout=30)  # ingest resumed
            except AssertionError as exc:
                said = [line for line in proc.lines if line.startswith("seismo")]  # type: ignore[attr-defined]
                raise AssertionError(f"after killing {role}: {exc}; {sorted(children(proc))}; {said}") from None
            assert proc.poll() is None

        client.stop.set()
        client.join(timeout=15)
        stored = stored_stamps(tmp_path)
        assert len(stored) == len(set(stored))  # nothing twice
        missing = {round(t, 2) for t in client.acked} - {round(t, 2) for t in stored}
        assert not missing, f"{len(missing)} acknowledged samples were not stored"

        status, body = http("GET", f"{base}/metrics", token=token)
        assert status == 200
        counts = {
            line.split('"')[1]: float(line.rsplit(" ", 1)[1])
            for line in body.splitlines()
            if line.startswith("seismo_restarts_total{")
        }
        # Each child restarted once: none of them died again because another one did.
        assert counts == {"web-1": 1, "web-2": 1, "worker": 1, "beat": 1, "postgres": 1, "redis": 1}, counts
    finally:
        output = stop(proc)
    assert proc.returncode == 0, output
    restarts = [line for line in output.splitlines() if "restarting it" in line]
    assert len(restarts) >= 6 and all("exited with code -9" in line for line in restarts[:6]), restarts
    assert "Traceback" not in "".join(line for line in output.splitlines() if line.startswith("seismo"))


@pytest.mark.slow
def test_a_task_queued_before_redis_is_killed_still_runs_after_it(tmp_path):
    proc = make_run(tmp_path, WEB_CONCURRENCY="1")
    base = proc.base  # type: ignore[attr-defined]
    try:
        wait_until(lambda: ready(base), timeout=150, interval=0.5)
        from celery import Celery

        def control() -> Celery:
            app = Celery("heal-test", broker=celery_broker_url(EmbeddedRedis(tmp_path).url))
            app.conf.control_exchange = "seismo.control"  # the launcher's REDIS_KEY_PREFIX
            return app

        # The worker stops taking tasks, so this one waits in Redis — not in a worker's buffer.
        assert control().control.cancel_consumer("seismo", reply=True, timeout=5)
        time.sleep(1.5)  # a wait for the queue already under way ends (kombu waits 1 s at a time)
        stamp = time.time() - 30
        sample = {"metric": "heal_probe", "labels": {"c": "queued"}, "value": 7.0, "ts": stamp}
        control().send_task("monitoring.tasks.ingest_batch", args=[[sample]], queue="seismo", routing_key="seismo")
        time.sleep(1.5)  # appendfsync everysec
        redis = children(proc)["redis"]
        redis.kill()
        # One look per poll: between two, the killed server can leave and its successor not yet be there.
        wait_until(lambda: getattr(children(proc).get("redis"), "pid", redis.pid) != redis.pid, timeout=30)
        wait_until(lambda: ready(base), timeout=60, interval=0.5)  # the worker reconnected
        wait_until(lambda: attempt(lambda: control().control.add_consumer("seismo", reply=True, timeout=5)), 30)
        wait_until(lambda: any(abs(t - stamp) < 0.01 for t in stored_stamps(tmp_path)), timeout=60, interval=0.5)
        assert proc.poll() is None
    finally:
        stop(proc)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_crash_loop_makes_the_launcher_give_up_with_one_line(tmp_path):
    env = {k: v for k, v in shell_free_environ().items() if k not in ("DJANGO_SETTINGS_MODULE", "DB_POOL")}
    env.update(
        DATABASE_URL=children_database_url(),
        PORT=str(free_port()),
        SEISMO_DATA_DIR=str(tmp_path),
        WEB_CONCURRENCY="1",
        SEISMO_RESTART_LIMIT="2",
        CELERY_CONCURRENCY="zero",  # the worker refuses to start, every time
    )
    result = subprocess.run(
        [sys.executable, "-m", "config.launcher", "run"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    ours = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("seismo: ")]
    assert [line for line in ours if "restarting it" in line] == [
        "seismo: worker exited with code 2; restarting it (restart 1, in 0 s)",
        "seismo: worker exited with code 2; restarting it (restart 2, in 1 s)",
    ]
    errors = [line for line in ours if line.startswith("seismo: error:")]
    assert errors == [
        "seismo: error: worker keeps crashing (exit code 2, 2 restarts in 120 s); giving up and stopping everything."
    ]


@pytest.mark.slow
def test_with_the_database_down_the_api_answers_503_json_and_pages_a_clear_page(tmp_path):
    env = {k: v for k, v in shell_free_environ().items() if k not in ("DJANGO_SETTINGS_MODULE", "DB_POOL")}
    port = free_port()
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/seismo",  # nothing listens there
        PORT=str(port),
        SEISMO_DATA_DIR=str(tmp_path),
        WEB_CONCURRENCY="1",
        DEBUG="1",  # `make run`'s default: the debug page is what used to come back
    )
    web = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "web"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("GET", f"{base}/healthz")[0] == 200, timeout=60, interval=0.3)
        body = {"samples": [{"metric": "m", "value": 1.0}]}
        status, answer = http("POST", f"{base}/api/v1/ingest/", body, token=USER_TOKEN_PREFIX + "a" * 40)
        assert status == 503
        assert answer["error"]["code"] == "database_unavailable"
        status, answer = http("GET", f"{base}/api/v1/alerts/", token=USER_TOKEN_PREFIX + "a" * 40)
        assert status == 503 and answer["error"]["code"] == "database_unavailable"

        # A person logging in: the login page itself needs no database, checking a password does.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        form = browser.open(f"{base}/accounts/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        fields = {"csrfmiddlewaretoken": csrf, "username": "someone", "password": "pw"}
        login = urllib.request.Request(
            f"{base}/accounts/login/", data=urllib.parse.urlencode(fields).encode(), headers={"Referer": base}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            browser.open(login, timeout=10)
        assert refused.value.code == 503
        text = refused.value.read().decode()
        assert "Database unavailable" in text and "Traceback" not in text

        status, answer = http("GET", f"{base}/readyz")
        assert status == 503 and answer["database"]["status"] == "down"
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
