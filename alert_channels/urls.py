"""Under /w/<slug>/settings/channels/ (included by dashboard.urls)."""

from django.urls import path

from alert_channels import views

app_name = "alert_channels"

urlpatterns = [
    path("", views.channel_add, name="add"),
    path("<int:channel_id>/test/", views.channel_test, name="test"),
    path("<int:channel_id>/enabled/", views.channel_enabled, name="enabled"),
    path("<int:channel_id>/remove/", views.channel_remove, name="remove"),
]
