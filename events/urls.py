from django.urls import path

from events import views

app_name = "events"

urlpatterns = [
    path("", views.error_list, name="errors"),
    path("banners/", views.banners, name="banners"),
]
