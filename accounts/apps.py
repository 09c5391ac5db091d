from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "Connected accounts"

    def ready(self) -> None:
        # Marks accounts broken from stored error events (events.recording signal).
        from accounts import receivers  # noqa: F401
