from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"


class Preset(models.TextChoices):
    HIGH_USER_LOAD = "high_user_load", "High User Load"
    API_STRESS = "api_stress", "API Stress"
    MEMORY_PRESSURE = "memory_pressure", "Memory Pressure"
    NETWORK_SLOW = "network_slow", "Network Slow"


class ThinkMode(models.TextChoices):
    CONSTANT = "constant", "Constant"
    BETWEEN = "between", "Random between 0.5x and 1.5x"
    # Locust's constant_throughput: each user aims at throughput_per_user iterations a second
    # and waits whatever is left of its interval after each request (no catching up when late).
    CONSTANT_THROUGHPUT = "constant_throughput", "Constant throughput per user"


# What each preset sets; any field given explicitly overrides it.
PRESETS: dict[str, dict[str, object]] = {
    Preset.HIGH_USER_LOAD: {"users": 200, "spawn_rate": 20, "think_time_ms": 1000, "think_mode": ThinkMode.BETWEEN},
    Preset.API_STRESS: {"users": 50, "spawn_rate": 50, "think_time_ms": 0, "think_mode": ThinkMode.CONSTANT},
    Preset.MEMORY_PRESSURE: {"users": 20, "spawn_rate": 10, "think_time_ms": 100, "payload_bytes": 1_000_000},
    Preset.NETWORK_SLOW: {"users": 20, "spawn_rate": 5, "think_time_ms": 200, "client_delay_ms": 300},
}
