from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "posts"
    label = "posts"
    verbose_name = "Failed posts and their retries"

    def ready(self) -> None:
        # Collects the posts a broken account made fail (events.recording signal).
        from posts import collect  # noqa: F401
