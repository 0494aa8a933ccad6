"""Locust users for the load-test benchmark (the anchor for our engine).

``Hammer`` — FastHttpUser with no wait, for the full-speed throughput comparison.
``Paced`` — FastHttpUser at ``constant_throughput(SEISMO_BENCH_RATE)`` against ``/slow``, for
the fixed-rate percentile comparison (our engine runs the same rate in constant-throughput mode).
"""

import os

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser


class Hammer(FastHttpUser):
    @task
    def root(self) -> None:
        self.client.get("/")


class Paced(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("SEISMO_BENCH_RATE", "10")))

    @task
    def slow(self) -> None:
        self.client.get("/slow")
