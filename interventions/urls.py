"""Tracking and unsubscribe links, mounted at /t/ and /unsubscribe/ by config/urls.py."""

from django.urls import path

from interventions import views

app_name = "interventions"

urlpatterns = [
    path("t/o/<str:token>.gif", views.open_pixel, name="open"),
    path("t/c/<str:token>/", views.click, name="click"),
    path("unsubscribe/<str:token>/", views.unsubscribe_page, name="unsubscribe"),
    path("me/messages/", views.messages_page, name="messages"),
    path("dashboard/interventions/", views.dashboard, name="dashboard"),
    path("dashboard/interventions/send/", views.send, name="send"),
    path("me/messages/read/", views.messages_read, name="messages_read"),
    path("me/messages/settings/", views.message_settings, name="message_settings"),
    path("me/sw.js", views.service_worker, name="service_worker"),
]
