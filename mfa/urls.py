from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from mfa import passkeys, views

app_name = "mfa"

urlpatterns = [
    path("login/code/", views.sign_in_code, name="sign_in_code"),
    path("account/two-factor/", views.manage, name="manage"),
    path("account/two-factor/setup/", views.setup, name="setup"),
    path("account/two-factor/setup/confirm/", views.setup_confirm, name="setup_confirm"),
    path("account/two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("account/two-factor/turn-off/", views.disable, name="disable"),
    # Passkeys: JSON endpoints of django-otp-webauthn's ceremonies, called by its script.
    path(
        "account/two-factor/passkeys/add/begin/",
        login_required(passkeys.PasskeyAddBegin.as_view()),
        name="passkey_add_begin",
    ),
    path(
        "account/two-factor/passkeys/add/complete/",
        login_required(passkeys.PasskeyAddComplete.as_view()),
        name="passkey_add_complete",
    ),
    path(
        "account/two-factor/passkeys/<int:passkey_id>/remove/",
        views.passkey_remove,
        name="passkey_remove",
    ),
    path(
        "login/passkey/begin/", passkeys.PasskeySignInBegin.as_view(), name="passkey_sign_in_begin"
    ),
    path(
        "login/passkey/complete/",
        passkeys.PasskeySignInComplete.as_view(),
        name="passkey_sign_in_complete",
    ),
    # The script's words (`gettext`), served as a script from this site.
    path(
        "login/passkey/i18n.js",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="passkey_i18n",
    ),
]
