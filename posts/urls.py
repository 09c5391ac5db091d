from django.urls import path

from posts import views

app_name = "posts"

urlpatterns = [
    path("accounts/<int:account_id>/retry/", views.retry_confirm, name="retry"),
    path("retries/<int:retry_id>/", views.retry_job_page, name="job"),
    path("failed/<int:failed_post_id>/relist/", views.failed_post_relist_view, name="relist"),
]
