"""URLs outside any workspace: the OAuth callback, reconnect links, webhooks."""

urlpatterns: list = []
