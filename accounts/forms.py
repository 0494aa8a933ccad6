"""Login forms of the pages and the admin: a locked-out attempt says so instead of "wrong password"."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts import throttle


class ThrottleMessageMixin:
    request: object

    def clean(self) -> dict[str, object]:
        try:
            return super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if getattr(self.request, "login_locked", False):
                raise forms.ValidationError(throttle.locked_message(), code="locked") from None
            raise


class LoginForm(ThrottleMessageMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottleMessageMixin, AdminAuthenticationForm):
    pass
