"""One shared Redis client per process, built from REDIS_URL."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1, health_check_interval=30
    )


def key(name: str) -> str:
    """A Redis key in Seismo's namespace (REDIS_KEY_PREFIX)."""
    return f"{settings.REDIS_KEY_PREFIX}:{name}"
