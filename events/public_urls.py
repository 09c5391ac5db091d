"""URLs outside any workspace: the ingest API, its description, support's errors page."""

from django.urls import path

from events import public_views

urlpatterns = [
    path("api/v1/events", public_views.ingest, name="events_ingest"),
    path("api/v1/openapi.json", public_views.openapi, name="events_openapi"),
    path("support/errors/", public_views.support_errors, name="events_support_errors"),
]
