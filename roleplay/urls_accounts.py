"""Included under ``accounts/`` without a namespace, before ``django.contrib.auth.urls``."""

from django.urls import path

from roleplay.views import accounts

urlpatterns = [
    path("login/", accounts.KokoroLoginView.as_view(), name="login"),
    path("signup/", accounts.signup, name="signup"),
    path("profile/", accounts.profile, name="profile"),
]
