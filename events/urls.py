from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("", views.error_list, name="errors"),
    path("<int:group_id>/", views.group_detail, name="group"),
    path("<int:group_id>/accounts/", views.group_accounts, name="group_accounts"),
    path("<int:group_id>/state/", views.group_state, name="group_state"),
    path("<int:group_id>/notes/", views.group_note, name="group_note"),
    path("banners/", views.banners, name="banners"),
    path("banners/dismiss/", views.banner_dismiss_view, name="banner_dismiss"),
    path("banners/restore/", views.banner_restore_view, name="banner_restore"),
    path("bundle/", views.bundle_download, name="bundle"),
]
