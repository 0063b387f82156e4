from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("health/", views.health, name="health"),
    # Operator pages (staff only).
    path("ops/", views.dashboard, name="dashboard"),
    path("ops/tasks/", views.task_list, name="task_list"),
    # path: a custom task id may contain any character, "/" included.
    path("ops/tasks/<path:task_id>/", views.task_detail, name="task_detail"),
    path("ops/schedules/", views.schedule_list, name="schedule_list"),
    path("ops/schedules/<int:pk>/", views.schedule_detail, name="schedule_detail"),
    path("ops/schedules/<int:pk>/run/", views.schedule_run, name="schedule_run"),
    path("ops/schedules/<int:pk>/enable/", views.schedule_enable, name="schedule_enable"),
    path("ops/schedules/<int:pk>/disable/", views.schedule_disable, name="schedule_disable"),
    path("ops/dead-letters/", views.dead_letter_list, name="dead_letter_list"),
    path("ops/dead-letters/<int:pk>/", views.dead_letter_detail, name="dead_letter_detail"),
    path("ops/dead-letters/<int:pk>/retry/", views.dead_letter_retry, name="dead_letter_retry"),
    path(
        "ops/dead-letters/<int:pk>/dismiss/", views.dead_letter_dismiss, name="dead_letter_dismiss"
    ),
]
