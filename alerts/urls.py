from django.urls import path  # noqa: F401

app_name = "alerts"

# The subscription pages (list, create, edit, pause, delete) are added here.
urlpatterns: list = []
