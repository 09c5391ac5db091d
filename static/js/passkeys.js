// The passkey just added is listed after a reload (django-otp-webauthn's script
// announces it with this event).
document.addEventListener("otp_webauthn.register_complete", function () {
  window.location.reload();
});
