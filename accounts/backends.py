"""The authentication backend every login door uses: Django's, behind the login throttle."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts import throttle


class ThrottledModelBackend(ModelBackend):
    """Refuses every attempt while its username/address is locked out; counts failures."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is None or username is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        if throttle.is_locked(request, username):
            request.login_locked = True  # type: ignore[attr-defined]  # read by the doors' error messages
            raise PermissionDenied(throttle.locked_message())  # authenticate() stops here, returns None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            throttle.record_failure(request, username)  # the attempt that reaches a limit still gets its answer
        else:
            throttle.reset(request, username)
        return user
