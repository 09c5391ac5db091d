from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"
    label = "media"
    verbose_name = "Media and storage"

    def ready(self) -> None:
        from events.recording import error_events_recorded
        from media.receivers import storage_quota_error_received

        error_events_recorded.connect(
            storage_quota_error_received, dispatch_uid="media.storage_quota_error_received"
        )
