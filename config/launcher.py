"""Seismo's process launcher: ``python -m config.launcher <command>``.

``run``      embedded services (when DATABASE_URL / REDIS_URL are unset) + prepare + web +
             worker + beat, supervised as one group until Ctrl-C or SIGTERM (`make run`): a
             child that dies is restarted with backoff; one that crash-loops stops it all.
``test``     embedded services + the test suite (`make test`).
``prepare``  migrate, collect static files, ensure the admin user.
``web``      WEB_CONCURRENCY daphne processes sharing one listening socket.
``worker``   the Celery worker.   ``beat``  Celery beat.
``services start|stop|status``   the embedded PostgreSQL and Redis alone.

Docker Compose runs ``prepare``/``web``, ``worker`` and ``beat`` as separate containers; ``run``
starts exactly the same commands as children. Configuration errors stop with one line.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from config.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    ServiceError,
    check_data_dir,
    embedded_env_file,
    ensure_embedded,
    stop_embedded,
)
from config.restarts import RestartLog
from lib.secretfile import write_secret_file

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_TIMEOUT = 15.0
# The README's deployment variables (admin login, listen address, SMTP server, outbound
# allowlist…). A developer's shell may carry them; the test suite must not see them — each test
# passes what it wants, so `make test` behaves the same with or without them set.
DEPLOYMENT_VARIABLES = (
    "DJANGO_SUPERUSER_USERNAME",
    "DJANGO_SUPERUSER_PASSWORD",
    "DJANGO_SUPERUSER_EMAIL",
    "HOST",
    "PORT",
    "WEB_CONCURRENCY",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL",
    "OUTBOUND_ALLOWLIST",
    "SEISMO_PUBLIC_URL",
)


class ConfigError(Exception):
    """Bad configuration: the message says what to fix."""


def fail(message: str, code: int = 2) -> int:
    print(f"seismo: error: {message}", file=sys.stderr, flush=True)
    return code


def say(message: str) -> None:
    print(f"seismo: {message}", flush=True)


# Configuration -----------------------------------------------------------------------------


def data_dir() -> Path:
    return Path(os.environ.get("SEISMO_DATA_DIR") or BASE_DIR / "var").resolve()


def validate_urls() -> None:
    """Malformed URLs fail here, before any process starts, with one line."""
    db = os.environ.get("DATABASE_URL")
    if db:
        parts = urlsplit(db)
        if parts.scheme not in ("postgres", "postgresql", "pgsql") or not (parts.hostname or parts.path.strip("/")):
            raise ConfigError(
                f"DATABASE_URL {redact(db)!r} is malformed: expected postgres://user:password@host:5432/dbname"
            )
        try:
            parts.port  # noqa: B018 (raises ValueError on a bad port)
        except ValueError:
            raise ConfigError(f"DATABASE_URL {redact(db)!r} has an invalid port") from None
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        parts = urlsplit(redis_url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"REDIS_URL {redact(redis_url)!r} is malformed: expected redis://host:6379/0")
        try:
            parts.port  # noqa: B018
        except ValueError:
            raise ConfigError(f"REDIS_URL {redact(redis_url)!r} has an invalid port") from None


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def listen_address() -> tuple[str, int]:
    host = os.environ.get("HOST") or "127.0.0.1"
    raw_port = os.environ.get("PORT") or "8000"
    try:
        port = int(raw_port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"PORT {raw_port!r} is not a port number (1-65535)") from None
    return host, port


def bind_listener(host: str, port: int) -> socket.socket:
    if ":" in host:
        # daphne adopts inherited sockets as IPv4 only.
        raise ConfigError(f"HOST {host!r}: use an IPv4 address (or 0.0.0.0) and a proxy for IPv6")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == 98:
            raise ConfigError(f"port {port} on {host} is in use: stop what uses it or set PORT=<free port>") from None
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): check HOST and PORT") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def web_concurrency() -> int:
    raw = os.environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 1)
    try:
        value = int(raw)
        if value < 1:
            raise ValueError
    except ValueError:
        raise ConfigError(f"WEB_CONCURRENCY {raw!r} must be a whole number ≥ 1") from None
    return value


def raise_open_files_limit() -> int:
    """A stream client is a socket: the usual soft limit of 1024 caps clients near 1,000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    target = min(target, 1_048_576)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def local_defaults(directory: Path) -> None:
    """Defaults for a developer's machine: DEBUG on and a persistent generated SECRET_KEY."""
    os.environ.setdefault("DEBUG", "1")
    check_data_dir(directory)
    if not os.environ.get("SECRET_KEY"):
        key_file = directory / "secret-key.txt"
        write_secret_file(key_file, secrets.token_urlsafe(50))  # kept if it exists; 0600 from the start
        os.environ["SECRET_KEY"] = key_file.read_text().strip()


# Processes ---------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    # Own process group, so Ctrl-C reaches only the launcher, which then stops children in
    # order; and die with the launcher even if it is killed with SIGKILL (Linux).
    os.setsid()
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process and how to start, stop and judge it."""

    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    user: str | None = None  # run as this user (PostgreSQL refuses root)
    log: Path | None = None  # stdout and stderr go here instead of the terminal
    env: dict[str, str] | None = None  # the environment, when not the launcher's own
    service: bool = False  # PostgreSQL / Redis: stopped after everything that uses them
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)  # monotonic times, within the window
    restart_due: float | None = None
    started_at: float = 0.0  # monotonic
    quick_deaths: int = 0  # consecutive deaths within STARTUP_SECONDS of a start


def restart_limit() -> tuple[int, float]:
    """A crash loop is more than SEISMO_RESTART_LIMIT restarts of one child within
    SEISMO_RESTART_WINDOW seconds (default 5 in 120 s)."""
    try:
        limit = int(os.environ.get("SEISMO_RESTART_LIMIT") or "5")
        window = float(os.environ.get("SEISMO_RESTART_WINDOW") or "120")
        if limit < 0 or window <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError("SEISMO_RESTART_LIMIT / SEISMO_RESTART_WINDOW must be positive numbers") from None
    return limit, window


# A child that ran this long had started successfully (supervisord's ``startsecs``): when it
# dies later, it is restarted at once, however often it was restarted before.
STARTUP_SECONDS = 5.0


def backoff(quick_deaths: int) -> float:
    """The first restart is immediate; each further one after a child died again within
    STARTUP_SECONDS of its start waits twice as long (1, 2, 4, 8 s, at most 10 s), so a child
    that cannot start does not spin, and one killed after running fine is back at once."""
    return 0.0 if quick_deaths <= 1 else min(10.0, 2.0 ** (quick_deaths - 2))


class Supervisor:
    """Runs children as one group and repairs it: a child that dies is started again (with
    backoff, one line each); a child that crash-loops stops everything with one line;
    SIGINT/SIGTERM stop everything, applications first, then the servers they use."""

    def __init__(self, restart_log: RestartLog | None = None, *, restart: bool = True) -> None:
        self.children: dict[str, Child] = {}
        self.stopping = False
        self.restart = restart
        self.restart_log = restart_log
        self.limit, self.window = restart_limit()

    def add(self, child: Child) -> None:
        self.children[child.name] = child
        self._start(child)

    def spawn(self, name: str, argv: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        self.add(Child(name, argv, pass_fds))

    def _start(self, child: Child) -> None:
        ids = {"user": child.user, "group": child.user, "extra_groups": []} if child.user else {}
        output = open(child.log, "ab") if child.log else None  # noqa: SIM115 (the child holds it)
        env = child.env
        if not child.service:  # pg_stat_activity.application_name says whose connection it is
            env = {**os.environ, **(env or {}), "PGAPPNAME": f"seismo {child.name}"}
        try:
            child.process = subprocess.Popen(
                child.argv,
                cwd=BASE_DIR,
                pass_fds=child.pass_fds,
                preexec_fn=_child_setup,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                env=env,
                **ids,
            )
        finally:
            if output:
                output.close()
        child.restart_due = None
        child.started_at = time.monotonic()

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGHUP, self._request_stop)

    def check(self) -> int | None:
        """One supervision pass: restart what died and is due; 1 when a child crash-loops."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_due is not None:
                if now >= child.restart_due and not self.stopping:
                    self._start(child)
                continue
            code = child.process.poll() if child.process else None
            if child.process is None or code is None:
                continue
            _kill_group(child.process.pid, wait=STOP_TIMEOUT)  # what it left behind (PostgreSQL backends)
            if not self.restart:
                fail(f"{child.name} exited with code {code}; stopping everything.", 1)
                return 1
            child.restarts = [at for at in child.restarts if now - at < self.window]
            if len(child.restarts) >= self.limit:
                fail(
                    f"{child.name} keeps crashing (exit code {code}, {len(child.restarts)} restarts in "
                    f"{self.window:.0f} s); giving up and stopping everything.",
                    1,
                )
                return 1
            child.quick_deaths = child.quick_deaths + 1 if now - child.started_at < STARTUP_SECONDS else 1
            delay = backoff(child.quick_deaths)
            child.restarts.append(now)
            number = self.restart_log.record(child.name, code) if self.restart_log else len(child.restarts)
            say(f"{child.name} exited with code {code}; restarting it (restart {number}, in {delay:.0f} s)")
            child.restart_due = now + delay
        return None

    def wait(self, on_tick: object = None) -> int:
        """Block until a stop is requested (→ 0) or a child crash-loops (→ 1)."""
        while not self.stopping:
            if self.check() is not None:
                self.stop_all()
                return 1
            if callable(on_tick):
                on_tick()
            time.sleep(0.2)
        self.stop_all()
        return 0

    def stop_all(self) -> None:
        # Applications first, so PostgreSQL and Redis do not see them as crashed clients.
        self._stop([c for c in self.children.values() if not c.service])
        self._stop([c for c in self.children.values() if c.service])

    def _stop(self, children: list[Child]) -> None:
        running = [child.process for child in children if child.process is not None]
        for child in children:
            child.restart_due = None
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if child.service:
                        child.process.send_signal(child.stop_signal)
                    else:
                        os.killpg(child.process.pid, child.stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in running:
            _kill_group(process.pid)  # grandchildren too
            process.wait()


def _kill_group(pid: int, wait: float = 0.0) -> None:
    """SIGKILL the process group ``pid`` leads; with ``wait``, return once none of it is left
    running (at most that many seconds): a restarted PostgreSQL refuses to start while a
    backend of its predecessor still holds the shared memory."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies have let go of everything)."""
    for entry in Path("/proc").iterdir() if sys.platform.startswith("linux") else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def daphne_argv(fd: int) -> list[str]:
    return [
        PYTHON,
        "-m",
        "config.daphne_server",
        "--fd",
        str(fd),
        "-v",
        "0",
        "--ping-interval",
        "20",
        "--ping-timeout",
        "30",
        "--websocket_timeout",
        "-1",
        "--application-close-timeout",
        "5",
        "config.asgi:application",
    ]


def worker_argv() -> list[str]:
    concurrency = os.environ.get("CELERY_CONCURRENCY") or "8"
    return [
        PYTHON,
        "-m",
        "config.celeryd",  # the worker without Celery's command line (config/celeryd.py says why)
        "worker",
        "--concurrency",
        concurrency,
        "--loglevel",
        os.environ.get("CELERY_LOGLEVEL", "WARNING"),
        "--hostname",
        f"seismo.{os.getpid()}@%h",
    ]


def beat_argv(directory: Path) -> list[str]:
    return [
        PYTHON,
        "-m",
        "config.celeryd",  # beat's own app: the schedule and the broker, not the Django project
        "beat",
        "--schedule",
        str(directory / "celerybeat-schedule"),
        "--loglevel",
        os.environ.get("CELERY_LOGLEVEL", "WARNING"),
    ]


def prepare() -> int:
    return subprocess.run([PYTHON, "manage.py", "seismo_prepare"], cwd=BASE_DIR).returncode


def wait_for_http(host: str, port: int, path: str, timeout: float, supervisor: Supervisor) -> bool:
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}{path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping:
        if supervisor.check() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


# Commands ----------------------------------------------------------------------------------


def start_services() -> list[str]:
    directory = data_dir()
    check_data_dir(directory)
    env, started = ensure_embedded(directory)
    os.environ.update(env)
    if started:
        say(f"started embedded {' and '.join(started)} (data in {directory})")
    return started


def supervise_services(directory: Path, supervisor: Supervisor) -> list[str]:
    """Start the embedded servers the environment does not provide as supervised children,
    so a server that dies is started again; returns their names."""
    env: dict[str, str] = {}
    started: list[str] = []
    pg = redis = None
    if not os.environ.get("DATABASE_URL"):
        pg = EmbeddedPostgres(directory)
        if not pg.is_running():
            pg.prepare()
            child = Child(
                "postgres", pg.server_argv(), user=pg.user, log=pg.log_file, service=True, env=pg.server_env()
            )
            child.stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients
            supervisor.add(child)
            started.append("postgres")
        env["DATABASE_URL"] = pg.url
    if not os.environ.get("REDIS_URL"):
        redis = EmbeddedRedis(directory)
        if not redis.is_running():
            redis.prepare()
            supervisor.add(Child("redis", redis.server_argv(), service=True))
            started.append("redis")
        env["REDIS_URL"] = redis.url
    if pg is not None:
        pg.wait_ready()
        pg.ensure_database()
    if redis is not None:
        redis.wait_ready()
    if env:
        embedded_env_file(directory).write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))
    os.environ.update(env)
    if started:
        say(f"started embedded {' and '.join(started)} (data in {directory})")
    return started


def cmd_run() -> int:
    validate_urls()
    host, port = listen_address()
    workers = web_concurrency()
    directory = data_dir()
    check_data_dir(directory)
    listener = bind_listener(host, port)  # before anything slow: a busy port fails at once
    local_defaults(directory)
    files = raise_open_files_limit()
    names = [f"web-{index + 1}" for index in range(workers)] + ["worker", "beat"]
    restart_log = RestartLog(directory, names)
    supervisor = Supervisor(restart_log)
    supervisor.install_signal_handlers()
    started: list[str] = []
    try:
        started = supervise_services(directory, supervisor)
        restart_log.register(started)
        if prepare() != 0:
            return fail("preparing the database failed (see above).", 1)
        if supervisor.stopping:
            return 0
        # The listener stays open here too: a restarted daphne process adopts it again.
        for name in names[:workers]:
            supervisor.spawn(name, daphne_argv(listener.fileno()), (listener.fileno(),))
        supervisor.spawn("worker", worker_argv())
        supervisor.spawn("beat", beat_argv(directory))
        if wait_for_http(host, port, "/healthz", 60, supervisor):
            say(f"web: {workers} daphne process(es); worker and beat running; open files limit {files}")
            print(f"\n  Seismo is running at http://{host}:{port}/\n  Press Ctrl-C to stop.\n", flush=True)
        elif supervisor.stopping:
            return 0
        return supervisor.wait()
    finally:
        supervisor.stop_all()
        listener.close()
        restart_log.remove()
        if started:
            if {"postgres", "redis"} <= set(started):
                embedded_env_file(directory).unlink(missing_ok=True)
            say(f"stopped embedded {' and '.join(started)}")
        say("stopped.")


def cmd_web() -> int:
    validate_urls()
    host, port = listen_address()
    workers = web_concurrency()
    listener = bind_listener(host, port)
    files = raise_open_files_limit()
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    for index in range(workers):
        supervisor.spawn(f"web-{index + 1}", daphne_argv(listener.fileno()), (listener.fileno(),))
    say(f"web listening on {host}:{port} with {workers} daphne process(es); open files limit {files}")
    try:
        return supervisor.wait()  # a daphne process that dies is restarted on the same socket
    finally:
        listener.close()


def cmd_exec(argv: list[str]) -> int:
    validate_urls()
    raise_open_files_limit()
    os.chdir(BASE_DIR)
    os.execv(argv[0], argv)  # noqa: S606 (replaces this process: the container entry point)
    return 0  # not reached


def run_with_services(argv: list[str], *, bench: bool = False) -> int:
    """Run ``argv`` (the test suite or the benchmarks) against the embedded or given servers,
    stopping afterwards only the embedded servers this call started."""
    validate_urls()
    directory = data_dir()
    local_defaults(directory)
    started = start_services()
    try:
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        if bench:
            os.environ["DATABASE_URL"] = bench_database(os.environ["DATABASE_URL"])
        return subprocess.run(argv, cwd=BASE_DIR).returncode
    finally:
        if started:
            stop_embedded(directory, started)


def bench_database(url: str) -> str:
    """Benchmarks write millions of rows: give them their own database, `<name>_bench`."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench"
    # Not parts.hostname: it lower-cases, and a socket directory's path is case-sensitive.
    location = parts.netloc.rsplit("@", 1)[-1]
    host = unquote(location if location.startswith("%2F") else location.rsplit(":", 1)[0])
    params = {
        "host": host,
        "port": parts.port,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or "") or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parts._replace(path=f"/{name}").geturl()


def cmd_services(action: str) -> int:
    directory = data_dir()
    if action == "start":
        start_services()
        say(f"DATABASE_URL={os.environ.get('DATABASE_URL')}")
        say(f"REDIS_URL={os.environ.get('REDIS_URL')}")
        return 0
    if action == "stop":
        stop_embedded(directory, ["postgres", "redis"])
        say("embedded services stopped")
        return 0
    return fail(f"unknown services action {action!r}: use start or stop")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    # Two malloc arenas instead of up to 8 per core: the worker's threads otherwise each grow an
    # arena of their own (measured under load: 3 MB less RSS and no slow creep). Children inherit it.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    try:
        if command == "run":
            return cmd_run()
        if command == "test":
            for name in DEPLOYMENT_VARIABLES:
                os.environ.pop(name, None)
            return run_with_services([PYTHON, "-m", "pytest", *rest])
        if command == "bench":
            return run_with_services([PYTHON, "-m", "bench", *rest], bench=True)
        if command == "prepare":
            validate_urls()
            return prepare()
        if command == "web":
            return cmd_web()
        if command == "worker":
            return cmd_exec(worker_argv())
        if command == "beat":
            return cmd_exec(beat_argv(data_dir()))
        if command == "services":
            return cmd_services(rest[0] if rest else "")
    except (ConfigError, ServiceError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    return fail(f"unknown command {command!r} (run, test, prepare, web, worker, beat, services)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
