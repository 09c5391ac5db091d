from django.urls import path

from mfa import views

app_name = "mfa"

urlpatterns = [
    path("login/code/", views.sign_in_code, name="sign_in_code"),
    path("account/two-factor/", views.manage, name="manage"),
    path("account/two-factor/setup/", views.setup, name="setup"),
    path("account/two-factor/setup/confirm/", views.setup_confirm, name="setup_confirm"),
    path("account/two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("account/two-factor/turn-off/", views.disable, name="disable"),
]
