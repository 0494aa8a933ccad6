from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self) -> None:
        # In ready(): these connect receivers and extensions that need the apps loaded first.
        from accounts import (
            schema,  # noqa: F401 (registers the OpenAPI auth extension)
            signals,  # noqa: F401 (password change revokes tokens)
        )
