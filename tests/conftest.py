"""Shared fixtures: role users, API clients, and real processes (Celery worker, beat, daphne).

Everything runs against the real PostgreSQL and Redis that `make test` provides.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from accounts.models import ApiToken
from config.launcher import DEPLOYMENT_VARIABLES
from lib.processes import CHROMIUM, celery_worker_argv, free_port, start_group, stop_group
from lib.processes import launch_chromium as launch_chromium  # the browser tests import it from here
from tests.stands import Stand

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS = BASE_DIR / "test-artifacts"


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Series ids and partitions cached by an earlier test may belong to rolled-back rows."""
    from monitoring.intake import doors, scrape
    from monitoring.store import chunks, partitions, series

    series.series_cache.clear()
    partitions.known_partitions.clear()
    chunks.known_chunk_partitions.clear()
    doors.clear_caches()
    scrape.forget_targets()
    from monitoring import health

    health.forget_snapshot()
    from dashboards import signals as dashboard_signals

    dashboard_signals.forget()


@pytest.fixture(autouse=True)
def _no_login_lockouts() -> None:
    """Failed logins counted by an earlier test (or run) must not lock this one out."""
    from lib.redis import get_redis, key

    redis = get_redis()
    stale = list(redis.scan_iter(match=key("login:*"), count=1000))
    if stale:
        redis.delete(*stale)


@pytest.fixture(autouse=True)
def _no_leftovers_from_earlier_tests() -> None:
    """Tasks an earlier test left queued (beat's schedule, work nobody consumed), unacknowledged
    tasks of a worker it killed, and the stream history it published belong to that test: this
    test's workers and sockets must not get them (a socket would be replayed another test's
    frames; a worker would first work through another test's backlog)."""
    # Imported here like the fixtures above: this module loads before Django is set up.
    from config.celery import app as celery_app
    from lib.redis import get_redis, key

    redis = get_redis()
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    stale = list(redis.scan_iter(match=key("stream:history:*"), count=1000))
    # The restore lock too: a worker killed while restoring leaves it held until it expires.
    redis.delete(transport["unacked_key"], transport["unacked_index_key"], transport["unacked_mutex_key"], *stale)
    # A connection of its own: a test may have closed the app's pool (the database-down tests do).
    with celery_app.connection_for_write() as connection:
        celery_app.control.purge(connection=connection)


# Users and clients ---------------------------------------------------------------------------


def _user(username: str, role: str | None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", "pw-" + username)
    user = User.objects.create_user(username, f"{username}@example.com", "pw-" + username)
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def owner(db: None) -> User:
    """An admin (superuser)."""
    return _user("owner", None, superuser=True)


@pytest.fixture
def editor(db: None) -> User:
    return _user("editor", "editor")


@pytest.fixture
def viewer(db: None) -> User:
    return _user("viewer", "viewer")


@pytest.fixture
def outsider(db: None) -> User:
    """Logged in, but with no role: sees nothing."""
    return _user("outsider", None)


def _token_client(user: User) -> APIClient:
    _, raw = ApiToken.issue(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw  # type: ignore[attr-defined]
    return client


@pytest.fixture
def api_as() -> Callable[[User], APIClient]:
    """``api_as(user)``: an API client authenticated with that user's bearer token."""
    return _token_client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


# Real processes ------------------------------------------------------------------------------


NEEDS_CHROMIUM = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def new_page(
    browser: Any,
    width: int = 1280,
    height: int = 720,
    timeout: int = 15_000,
    console: bool = True,
    **options: Any,
) -> tuple[Any, list[str]]:
    """A fresh page in a context of its own, and the list its uncaught page errors (and, with
    ``console``, its console errors) are collected in: a browser test ends by asserting it is
    empty. Tests that break the server on purpose leave ``console`` off."""
    page = browser.new_context(**{"viewport": {"width": width, "height": height}, **options}).new_page()
    page.set_default_timeout(timeout)
    errors: list[str] = []
    if console:
        page.on("console", lambda m: errors.append(f"{page.url}: console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: pageerror: {e}"))
    return page, errors


def log_in(page: Any, base: str, username: str, landing: str = "/") -> None:
    """Sign in through the login form as a role user (password ``pw-<username>``) and wait to
    land on ``landing``."""
    page.goto(f"{base}/accounts/login/" + (f"?next={landing}" if landing != "/" else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{landing}")


def children_database_url() -> str:
    """The URL of the test database pytest-django created, for child processes."""
    db = settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else db["HOST"]
    auth = db["USER"] + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


# `config.launcher test` drops the README's deployment variables from the suite's environment;
# a bare `pytest` keeps them from the processes the tests start, at least.
SHELL_SETTINGS = DEPLOYMENT_VARIABLES


def shell_free_environ() -> dict[str, str]:
    """This process's environment without the SHELL_SETTINGS."""
    return {name: value for name, value in os.environ.items() if name not in SHELL_SETTINGS}


def child_env(**extra: str) -> dict[str, str]:
    env = shell_free_environ()
    env.update(
        DATABASE_URL=children_database_url(),
        DJANGO_SETTINGS_MODULE="config.settings.test",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Process:
    """A child process with its output in a log file; stopped (and its group killed) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{name}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = start_group(argv, env, self.log)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        returncode = stop_group(self.proc, sig, timeout)
        self.log.close()
        return returncode


def wait_until(predicate: Callable[[], object], timeout: float = 20, interval: float = 0.1) -> object:
    """Poll ``predicate`` until it is truthy; fail the test when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def start_worker(name: str = "worker", **env: str) -> Process:
    process = Process(
        name,
        celery_worker_argv(f"test-{name}-{os.getpid()}@%h"),
        child_env(**env),
    )
    wait_until(lambda: "ready." in process.output() or not process.alive(), timeout=30)
    assert process.alive(), process.output()
    return process


def start_beat(tmp_path: Path, **env: str) -> Process:
    return Process(
        "beat",
        [
            sys.executable,
            "-m",
            "config.celeryd",
            "beat",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--loglevel",
            "INFO",
        ],
        child_env(**env),
    )


def start_daphne(port: int, **env: str) -> Process:
    process = Process(
        f"daphne-{port}",
        [
            sys.executable,
            "-m",
            "config.daphne_server",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "-v",
            "1",
            "config.asgi:application",
        ],
        child_env(**env),
    )

    def listening() -> bool:
        if not process.alive():
            return True
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout=30)
    assert process.alive(), process.output()
    return process


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Process]:
    """A real Celery worker process on the test database (tests using it commit their data)."""
    process = start_worker()
    yield process
    process.stop()


@pytest.fixture
def live_server_asgi(transactional_db: None) -> Iterator[str]:
    """A real daphne serving config.asgi on a free loopback port; yields its base URL."""
    port = free_port()
    process = start_daphne(port)
    yield f"127.0.0.1:{port}"
    process.stop()


@pytest.fixture
def outbound_pair() -> Iterator[tuple[Stand, Stand]]:
    """An allowed stand on 127.0.0.1 and a refused one on 127.0.0.2, on the same port."""
    for _ in range(20):
        allowed = Stand("127.0.0.1")
        try:
            refused = Stand("127.0.0.2", allowed.port)
        except OSError:
            allowed.close()
            continue
        yield allowed, refused
        allowed.close()
        refused.close()
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture
def rebinding_dns(monkeypatch) -> list[str]:
    """``rebind.test`` answers 127.0.0.1 once, then 127.0.0.2 for ever (a rebinding attacker)."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = "127.0.0.1" if not answers else "127.0.0.2"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers
