from django.urls import path

from media import views

app_name = "media"

urlpatterns = [
    path("", views.storage_page, name="storage"),
]
