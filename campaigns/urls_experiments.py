"""Experiment pages, mounted at /dashboard/experiments/ by config/urls.py."""

from django.urls import path

from campaigns import views_experiments as views

app_name = "experiments"

urlpatterns = [
    path("", views.experiment_list_page, name="list"),
    path("<slug:key>/", views.experiment_detail, name="detail"),
    path("<slug:key>/start/", views.experiment_start_action, name="start"),
    path("<slug:key>/stop/", views.experiment_stop_action, name="stop"),
    path("<slug:key>/calculator/", views.calculator, name="calculator"),
]
