"""Account pages that strangers can reach: login (password and single sign-on), sign-up and
password reset, the last two rate-limited.

Logins are throttled by django-axes (settings.py). Sign-up is limited per client address and, for
accounts actually created, across all addresses, so no number of addresses can flood the user
table. A refused request shows its form again with what was typed (passwords aside), and 429.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView, PasswordResetView, redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django_ratelimit.core import is_ratelimited

TOO_MANY_SIGNUPS = "Too many sign-ups right now. Please try again later."
TOO_MANY_RESETS = "Too many password-reset requests from your network. Please try again later."


def everyone(group: str, request: HttpRequest) -> str:
    """One rate-limit bucket shared by every client."""
    return "everyone"


def limited(request: HttpRequest, group: str, rate: str, key=None) -> bool:
    """Count this request against `rate` for its client address (or `key`); true when over it."""
    return is_ratelimited(request, group=group, key=key or "ip", rate=rate, increment=True)


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        required=False, help_text="Optional; needed to reset a forgotten password. Used for nothing else."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email and get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account already uses this email address.")
        return email


def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up, available only while PARLEY_SIGNUP_ENABLED is on."""
    if not settings.PARLEY_SIGNUP_ENABLED:
        raise Http404("Sign-up is closed.")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        refused = limited(request, "signup", settings.PARLEY_SIGNUP_RATE) or (
            form.is_valid() and limited(request, "signup-created", settings.PARLEY_SIGNUP_GLOBAL_RATE, everyone)
        )
        if refused:
            form.add_error(None, TOO_MANY_SIGNUPS)
            return render(request, "registration/signup.html", {"form": form}, status=429)
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})


class RateLimitedPasswordResetView(PasswordResetView):
    """Django's password reset, with the emails one client may trigger limited."""

    def form_valid(self, form):
        if limited(self.request, "password-reset", settings.PARLEY_PASSWORD_RESET_RATE):
            form.add_error(None, TOO_MANY_RESETS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class ParleyLoginView(LoginView):
    """Django's login, offering single sign-on when it is configured; with PARLEY_PASSWORD_LOGIN off
    it offers only that, and refuses passwords."""

    def post(self, request, *args, **kwargs):
        if not settings.PARLEY_PASSWORD_LOGIN:
            return HttpResponseForbidden("Password login is switched off; use single sign-on.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "password_login": settings.PARLEY_PASSWORD_LOGIN,
            "sso_name": settings.PARLEY_OIDC_NAME if settings.PARLEY_OIDC_ISSUER else "",
            "sso_failed": self.request.GET.get("sso") == "failed",
        }


def closed(request: HttpRequest) -> HttpResponse:
    """Password pages while PARLEY_PASSWORD_LOGIN is off."""
    raise Http404("Password login is switched off.")


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's password login, while PARLEY_PASSWORD_LOGIN is off: Parley's login page instead."""
    return redirect_to_login(request.GET.get("next") or "/admin/", settings.LOGIN_URL)
