"""The settings page where users create, name and revoke their personal API tokens."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services

EXPIRY_CHOICES = [("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=services.NAME_MAX, help_text="Where you will use it, e.g. “laptop script”.")
    expires = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, label="Expires after"
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_settings(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; a valid POST creates one and shows its secret this once."""
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = services.token_create(
            owner=request.user, name=form.cleaned_data["name"], expires_in_days=form.cleaned_data["expires"]
        )
        form = TokenForm()
    context = {"form": form, "secret": secret, "tokens": selectors.token_list(owner=request.user)}
    response = render(request, "conversations/tokens.html", context, status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"  # the page may carry a secret
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    services.token_revoke(owner=request.user, token_id=token_id)
    return redirect("api-tokens")
