from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """A local SocialAPI for demos and tests; never enabled in production."""

    name = "sandbox"
    verbose_name = "SocialAPI sandbox"
