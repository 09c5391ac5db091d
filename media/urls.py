from django.urls import path

from media import views

app_name = "media"

urlpatterns = [
    path("", views.storage_page, name="storage"),
    path("refresh/", views.storage_refresh, name="refresh"),
    path("media/", views.library_page, name="library"),
    path("media/sync/", views.library_sync, name="library_sync"),
    path("delete/", views.bulk_delete, name="delete"),
    path("deletions/", views.jobs_page, name="jobs"),
    path("deletions/<int:job_id>/", views.job_page, name="job"),
    path("deletions/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("deletions/<int:job_id>/retry/", views.job_retry, name="job_retry"),
    path("deletions/<int:job_id>/problems.csv", views.job_problems_csv, name="job_problems_csv"),
]
