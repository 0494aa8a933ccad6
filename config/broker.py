"""The Celery broker transport: kombu's Redis transport, repaired to survive Redis restarts.

When Redis goes away while tasks are in flight, Celery closes the consumer's connection and
kombu, closing its channel, tries to hand the unacknowledged tasks back — through a pool it
rebuilds from a connection that is already gone (``'NoneType' object has no attribute
'hostname'`` in ``_connparams``). Celery treats that AttributeError as unrecoverable and the
worker exits. Here the channel raises the connection error kombu expects instead: the close
goes on, Celery reconnects, and the unacknowledged tasks stay in Redis (the append-only file
keeps them) until a worker restores them.

Importing this module registers the ``seismoredis`` scheme; ``config.embedded.celery_broker_url``
spells every Redis broker URL with it.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

SCHEME = "seismoredis"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:  # the connection closed under this channel
            raise RedisConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
