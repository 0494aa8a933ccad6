"""HTML forms; each one ends in the same validation the API uses (dashboards.validation)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from dashboards.choices import ThresholdLevel, WidgetKind
from dashboards.models import GRID_COLUMNS, Dashboard, Widget
from dashboards.services import widget_config
from dashboards.validation import clean_widget
from monitoring.choices import Aggregation


def add_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """A validation error's messages on the form: under their field when it has one, else on top."""
    for field, messages in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class DashboardForm(forms.ModelForm):
    class Meta:
        model = Dashboard
        fields = ["title", "shared", "time_range"]


class RenameForm(forms.Form):
    title = forms.CharField(max_length=120)


def parse_labels(text: str) -> dict[str, str]:
    """``host=web1, env=prod`` → {"host": "web1", "env": "prod"}."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"{part!r} is not name=value")
        labels[name.strip()] = value.strip()
    return labels


def parse_thresholds(text: str) -> list[dict[str, Any]]:
    """``80 warning, 90 critical`` (level optional: the first is warning, later ones critical)."""
    out = []
    for index, part in enumerate(filter(None, (p.strip() for p in text.split(",")))):
        value, _, level = part.replace(":", " ").partition(" ")
        level = level.strip() or (ThresholdLevel.WARNING if index == 0 else ThresholdLevel.CRITICAL)
        try:
            number = float(value)
        except ValueError as exc:
            raise ValidationError(f"{part!r}: the threshold must start with a number") from exc
        out.append({"value": number, "level": level})
    return out


class WidgetForm(forms.Form):
    kind = forms.ChoiceField(choices=WidgetKind.choices, initial=WidgetKind.TIMESERIES)
    title = forms.CharField(max_length=120, required=False)
    metric = forms.CharField(max_length=200, required=False)
    labels = forms.CharField(required=False, help_text="name=value, comma separated")
    aggregation = forms.ChoiceField(choices=Aggregation.choices, initial=Aggregation.AVG)
    thresholds = forms.CharField(required=False, help_text="e.g. 80 warning, 90 critical")
    w = forms.IntegerField(min_value=1, max_value=GRID_COLUMNS, initial=12, label="Width (of 24)")
    h = forms.IntegerField(min_value=1, max_value=40, initial=6, label="Height")

    @classmethod
    def for_widget(cls, widget: Any) -> WidgetForm:
        """The form filled in with a widget's current config (labels and thresholds as text)."""
        labels = ", ".join(f"{k}={v}" for k, v in widget.labels.items())
        thresholds = ", ".join(f"{t['value']:g} {t['level']}" for t in widget.thresholds)
        initial = {"kind": widget.kind, "title": widget.title, "metric": widget.metric, "labels": labels}
        initial |= {"aggregation": widget.aggregation, "thresholds": thresholds, "w": widget.w, "h": widget.h}
        return cls(initial=initial)

    def clean_labels(self) -> dict[str, str]:
        return parse_labels(self.cleaned_data.get("labels") or "")

    def clean_thresholds(self) -> list[dict[str, Any]]:
        return parse_thresholds(self.cleaned_data.get("thresholds") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.widget_config = clean_widget({**data, "x": 0})
            self.widget_config = {k: v for k, v in self.widget_config.items() if k not in ("x", "y")}
        except ValidationError as exc:
            add_errors(self, exc)
        return data


WIDGET_ADMIN_FIELDS = ["kind", "title", "metric", "labels", "aggregation", "thresholds", "x", "y", "w", "h"]


class WidgetAdminForm(forms.ModelForm):
    """The admin's widget rows: the same clean_widget the API and the pages run."""

    class Meta:
        model = Widget
        fields = WIDGET_ADMIN_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            cleaned = clean_widget({**widget_config(self.instance), **data})
        except ValidationError as exc:
            add_errors(self, exc)
        else:
            data.update({name: cleaned[name] for name in WIDGET_ADMIN_FIELDS})
        return data


class ImportForm(forms.Form):
    document = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False, label="Dashboard JSON")
    file = forms.FileField(required=False, label="…or a JSON file")
    shared = forms.BooleanField(required=False, label="Shared with everyone")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        text = upload.read(2_000_000).decode("utf-8", errors="replace") if upload else data.get("document") or ""
        if not text.strip():
            raise ValidationError("Paste an exported dashboard or choose a file.")
        try:
            data["parsed"] = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"This is not valid JSON: {exc}") from exc
        return data
