from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self) -> None:
        # In ready(): the receivers need the apps loaded first. (The OpenAPI auth extension,
        # accounts.schema, registers where the schema is served: config/urls.py.)
        from accounts import signals  # noqa: F401 (password change revokes tokens)
