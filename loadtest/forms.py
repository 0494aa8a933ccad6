"""The scenario form: every field explained, presets as starting points, and the API's own
validation (ScenarioSerializer) deciding what is valid — one set of rules for both doors."""

from __future__ import annotations

from typing import Any

from django import forms

from loadtest.api.serializers import ScenarioSerializer
from loadtest.choices import PRESETS, Preset, RunStatus
from loadtest.models import Scenario, default_endpoints

HELP = {
    "name": "What this scenario is called in lists and comparisons.",
    "preset": "A starting point: it fills users, spawn rate and think time (you can change them).",
    "target_url": "The base URL requests go to; endpoint paths are appended. Only this instance and "
    "hosts in OUTBOUND_ALLOWLIST are allowed.",
    "users": "Simulated users running at the same time (each waits for its answer before the next request).",
    "spawn_rate": "Users started per second until all are running.",
    "duration_seconds": "How long the run lasts, in seconds, once it starts.",
    "think_mode": "How users pause between requests.",
    "think_time_ms": "The pause after each request, in milliseconds (0: as fast as the target answers).",
    "throughput_per_user": "With constant throughput: requests per second each user aims at.",
    "request_timeout_ms": "A request that takes longer counts as a failure.",
    "processes": "Worker processes sharing the users, for more load than one process can make.",
    "payload_bytes": "Body size sent with POST and PUT requests.",
    "client_delay_ms": "A delay added before each request (simulates a slow network).",
    "max_error_rate": "Safety limit: stop when more than this share of requests fail (0 to 1, e.g. 0.05).",
    "max_p95_ms": "Safety limit: stop when the 95th percentile latency passes this many milliseconds.",
    "max_rps": "Safety limit: never send more than this many requests per second.",
    "max_cpu_percent": "Safety limit: stop when this machine's CPU passes this percentage.",
    "max_memory_percent": "Safety limit: stop when this machine's memory use passes this percentage.",
}
FIELDS = list(HELP)
SAFETY = ["max_error_rate", "max_p95_ms", "max_rps", "max_cpu_percent", "max_memory_percent"]


def endpoints_text(endpoints: list[dict[str, Any]]) -> str:
    return "\n".join(f"{e.get('method', 'GET')} {e.get('path', '/')} {e.get('weight', 1):g}" for e in endpoints)


def parse_endpoints(text: str) -> list[dict[str, Any]]:
    """``GET /api/v1/metrics/ 3`` per line (method and weight optional) → the API's endpoint list."""
    out = []
    for number, line in enumerate((raw.strip() for raw in text.splitlines()), start=1):
        if not line:
            continue
        parts = line.split()
        method = parts.pop(0).upper() if not parts[0].startswith("/") else "GET"
        if not parts:
            raise forms.ValidationError(f"line {number}: a path starting with / is needed")
        path = parts.pop(0)
        try:
            weight = float(parts.pop(0)) if parts else 1.0
        except ValueError:
            raise forms.ValidationError(f"line {number}: the weight must be a number") from None
        if parts:
            raise forms.ValidationError(f"line {number}: write METHOD /path weight")
        out.append({"method": method, "path": path, "weight": int(weight) if weight.is_integer() else weight})
    return out


class ScenarioForm(forms.ModelForm):
    endpoints_text = forms.CharField(
        label="Endpoints",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line: METHOD /path weight — e.g. “GET /api/v1/metrics/ 3”. "
        "Users pick endpoints in proportion to their weights.",
    )

    class Meta:
        model = Scenario
        fields = [f for f in FIELDS if f != "endpoints"]
        help_texts = HELP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(["name", "preset", "target_url", "endpoints_text", *FIELDS])
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-describedby", f"{name}-help")
        self.serializer: ScenarioSerializer | None = None

    @classmethod
    def starting_from(cls, preset: str | None, target_url: str) -> ScenarioForm:
        """An empty form, or one filled with a preset's values, aimed at ``target_url``."""
        initial: dict[str, Any] = {"target_url": target_url, "endpoints_text": endpoints_text(default_endpoints())}
        if preset in Preset.values:
            initial |= {"preset": preset, "name": Preset(preset).label, **PRESETS[preset]}
        return cls(initial=initial)

    def clean_endpoints_text(self) -> list[dict[str, Any]]:
        return parse_endpoints(self.cleaned_data.get("endpoints_text") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        payload = {k: v for k, v in data.items() if k in FIELDS and v not in (None, "")}
        payload["endpoints"] = data["endpoints_text"]
        # The API decides: the same serializer (and its checks) as POST /api/v1/loadtest/scenarios/.
        serializer = ScenarioSerializer(data=payload)
        if not serializer.is_valid():
            for field, messages in serializer.errors.items():
                name = "endpoints_text" if field == "endpoints" else field
                self.add_error(name if name in self.fields else None, [str(m) for m in messages])
        self.serializer = serializer
        return data

    def _post_clean(self) -> None:
        # Validation is the serializer's (above); the model instance is built by it on save.
        pass

    def save(self, commit: bool = True, *, created_by: Any = None) -> Scenario:  # type: ignore[override]
        assert self.serializer is not None
        return self.serializer.save(created_by=created_by)


class RunFilterForm(forms.Form):
    """The runs list's filters (kept in the address)."""

    scenario = forms.ModelChoiceField(Scenario.objects.all(), required=False, empty_label="any scenario")
    status = forms.ChoiceField(choices=[("", "any status"), *RunStatus.choices], required=False)
