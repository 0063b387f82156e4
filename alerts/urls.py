from django.urls import path

from alerts import views

app_name = "alerts"

# Users' own subscriptions (alerts/views.py); the paths are linked from alert emails.
urlpatterns = [
    path("", views.subscription_list, name="subscription_list"),
    path("new/", views.subscription_create, name="subscription_create"),
    path("<int:pk>/edit/", views.subscription_edit, name="subscription_edit"),
    path("<int:pk>/pause/", views.subscription_pause, name="subscription_pause"),
    path("<int:pk>/secret/", views.subscription_secret, name="subscription_secret"),
    path("<int:pk>/delete/", views.subscription_delete, name="subscription_delete"),
]
