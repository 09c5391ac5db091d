from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("alerts/", views.account_alerts_preference, name="alerts"),
    path("webhooks/", views.webhook_deliveries, name="webhooks"),
    path("<int:account_id>/", views.account_detail, name="detail"),
    path("<int:account_id>/row/", views.account_row, name="row"),
    path("<int:account_id>/check/", views.account_check, name="check"),
    path("<int:account_id>/reconnect/", views.account_reconnect, name="reconnect"),
    path("<int:account_id>/credentials/", views.account_credentials, name="credentials"),
    path("<int:account_id>/disconnect/", views.account_disconnect_confirm, name="disconnect"),
    path("<int:account_id>/links/", views.account_link_create, name="link_create"),
    path("links/<int:link_id>/revoke/", views.account_link_revoke, name="link_revoke"),
]
