"""Login throttling: failed logins counted per (username, client address) and per address, in Redis.

After ``LOGIN_FAILURE_LIMIT`` failures for one username from one address within
``LOGIN_FAILURE_WINDOW_SECONDS`` (or ``LOGIN_FAILURE_LIMIT_PER_ADDRESS`` from one address for any
usernames) further attempts are refused for ``LOGIN_LOCKOUT_SECONDS``, the right password
included. Every door (the login page, the admin, the token endpoint) goes through Django's
``authenticate()``, and so through :class:`accounts.backends.ThrottledModelBackend`, which calls
these functions.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest

from lib.clientip import client_address
from lib.redis import get_redis, key

LOCKED_MESSAGE = "Too many failed logins from your address; try again in {minutes} minutes."


def locked_message() -> str:
    return LOCKED_MESSAGE.format(minutes=max(1, settings.LOGIN_LOCKOUT_SECONDS // 60))


def _keys(request: HttpRequest, username: str) -> tuple[str, str]:
    address = client_address(request) or "unknown"
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return f"login:{address}:{name}", f"login:{address}"


def is_locked(request: HttpRequest, username: str) -> bool:
    pair, address = _keys(request, username)
    return bool(get_redis().exists(key(f"{pair}:lock"), key(f"{address}:lock")))


def record_failure(request: HttpRequest, username: str) -> None:
    """Count a failure; the count that reaches a limit starts the lockout."""
    window, lockout = settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.LOGIN_LOCKOUT_SECONDS
    pair, address = _keys(request, username)
    limits = {pair: settings.LOGIN_FAILURE_LIMIT, address: settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS}
    pipe = get_redis().pipeline()
    for name in limits:
        # The window starts at the first failure (INCR keeps the TTL). Not EXPIRE … NX: the
        # embedded Redis is 6.2, which lacks it.
        pipe.set(key(f"{name}:fails"), 0, ex=window, nx=True)
        pipe.incr(key(f"{name}:fails"))
    counts = pipe.execute()[1::2]
    pipe = get_redis().pipeline()
    for (name, limit), count in zip(limits.items(), counts, strict=True):
        if count >= limit:
            pipe.set(key(f"{name}:lock"), 1, ex=lockout)
            pipe.delete(key(f"{name}:fails"))
    pipe.execute()


def reset(request: HttpRequest, username: str) -> None:
    """A successful login forgets that username's failures from that address."""
    pair, _ = _keys(request, username)
    get_redis().delete(key(f"{pair}:fails"))
