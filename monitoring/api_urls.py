"""The JSON API (/api/...) and /metrics; included at the root by capitolscope/urls.py."""

from django.urls import path

from monitoring import api, api_index, metrics, views

app_name = "monitoring_api"

urlpatterns = [
    path("api/", api_index.api_index, name="index"),
    # Public, for load balancers: the same minimal answer as /health/.
    path("api/health/", views.health, name="health"),
    path("api/health/full/", api.health_full, name="health_full"),
    path("api/tasks/active/", api.tasks_active, name="tasks_active"),
    path("api/tasks/scheduled/", api.tasks_scheduled, name="tasks_scheduled"),
    path("api/tasks/<str:task_id>/", api.task_detail, name="task"),
    path("api/tasks/<str:task_id>/revoke/", api.task_revoke, name="task_revoke"),
    path("api/workers/", api.workers, name="workers"),
    path("api/queues/", api.queues, name="queues"),
    path("api/schedules/", api.schedules, name="schedules"),
    path("api/jobs/", api.job_list, name="jobs"),
    path("api/jobs/<str:name>/", api.job_trigger, name="job_trigger"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("metrics/", metrics.metrics_view),  # what a browser or a scraper may ask for
]
