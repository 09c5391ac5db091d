"""URLs outside any workspace: the ingest API."""

urlpatterns: list = []
