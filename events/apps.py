from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Error events"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from dashboard.models import UsageSnapshot
        from events.receivers import figures_saved
        from media.models import StorageSnapshot

        post_save.connect(
            figures_saved, sender=StorageSnapshot, dispatch_uid="events.storage_figures_saved"
        )
        post_save.connect(
            figures_saved, sender=UsageSnapshot, dispatch_uid="events.usage_figures_saved"
        )
