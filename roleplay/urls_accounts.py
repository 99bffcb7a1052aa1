"""Included under ``accounts/`` without a namespace, before ``django.contrib.auth.urls``."""

from django.urls import path

from roleplay.views import accounts

urlpatterns = [
    path("login/", accounts.KokoroLoginView.as_view(), name="login"),
    path("signup/", accounts.signup, name="signup"),
    path("password_reset/", accounts.KokoroPasswordResetView.as_view(), name="password_reset"),
    path("profile/", accounts.profile, name="profile"),
]
