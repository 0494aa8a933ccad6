"""The "add to dashboard" form: a dashboard widget form (same validation as the API) plus the
dashboard to put it on."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboards import permissions
from dashboards.forms import WidgetForm


def editable_dashboards(user: Any) -> list[Any]:
    """The dashboards this user may add a widget to."""
    return [d for d in permissions.visible_dashboards(user).order_by("title") if permissions.can_edit(user, d)]


class AddToDashboardForm(WidgetForm):
    dashboard = forms.TypedChoiceField(coerce=int, label="Dashboard")
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dashboards = {d.pk: d for d in editable_dashboards(user)}
        self.fields["dashboard"].choices = [(pk, d.title) for pk, d in self.dashboards.items()]

    def clean_next(self) -> str:
        # Only a way back to Explore itself: never an open redirect.
        target = self.cleaned_data.get("next") or ""
        return target if target.startswith("/explore/") else "/explore/"
