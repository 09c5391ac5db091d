from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "mfa"
    label = "mfa"
    verbose_name = "Two-factor sign-in"
