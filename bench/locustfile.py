"""Locust's fastest user against the benchmark target (the anchor for our engine)."""

from locust import task
from locust.contrib.fasthttp import FastHttpUser


class Hammer(FastHttpUser):
    @task
    def root(self) -> None:
        self.client.get("/")
