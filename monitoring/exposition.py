"""Prometheus text exposition of Seismo's own state."""

from __future__ import annotations

from monitoring import health


def render_exposition() -> str:
    lines = ["# HELP seismo_component_up Whether a Seismo dependency answers (1) or not (0).",
             "# TYPE seismo_component_up gauge"]  # fmt: skip
    for name, state in health.component_status().items():
        lines.append(f'seismo_component_up{{component="{name}"}} {1 if state["status"] == "up" else 0}')
    return "\n".join(lines) + "\n"
