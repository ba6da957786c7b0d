"""Sign-in pages, mounted at /accounts/."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views
from accounts.forms import StudentPasswordResetForm

app_name = "accounts"

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Email and password: Django's reset flow, the link sent through EMAIL_BACKEND.
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            form_class=StudentPasswordResetForm,
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="accounts/password_reset_done.html",
            extra_context={"link_hours": max(settings.PASSWORD_RESET_TIMEOUT // 3600, 1)},
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    # One-time sign-in links (POST /api/v1/users/{external_id}/sign-in-link/ makes them).
    path("sign-in/<str:token>/", views.sign_in_link, name="sign-in-link"),
    # LTI 1.3: what a platform's administrator enters for Stride's tool.
    path("lti/login/", views.lti_login, name="lti-login"),
    path("lti/launch/", views.lti_launch, name="lti-launch"),
    path("lti/jwks.json", views.lti_jwks, name="lti-jwks"),
]
