from django.urls import path  # noqa: F401

app_name = "monitoring_api"

# The JSON API (/api/...) and /metrics are added here.
urlpatterns: list = []
