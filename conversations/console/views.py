"""The live console's pages, inside the Django admin (ServerProcessAdmin wires them in).

Everything here needs staff status (the admin's own check) and the `use_live_console` permission.
Each action an operator takes on a user's data, a stop, a sweep or reading a conversation, is
recorded in the admin's LogEntry with who did it.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import generation, selectors, services
from ..management.commands import sweep_replies
from .consumer import PERMISSION

CONSOLE = "admin:conversations_serverprocess_console"


def require_console_permission(request: HttpRequest) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("The live console needs the “use live console” permission.")


def console(request: HttpRequest, site: AdminSite) -> HttpResponse:
    require_console_permission(request)
    context = {
        **site.each_context(request),
        "title": "Live console",
        "processes": selectors.server_process_list(),
        "stale_after": settings.PARLEY_STALE_AFTER,
        "report_interval": settings.PARLEY_CONSOLE_INTERVAL,
    }
    return render(request, "conversations/console/console.html", context)


@require_POST
def stop(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """Stop any user's reply through the generation service, and log who did."""
    require_console_permission(request)
    conversation_id = request.POST.get("conversation_id", "")
    try:
        reply = async_to_sync(generation.stop)(user=request.user, conversation_id=conversation_id, operator=True)
    except generation.Refused as refusal:
        messages.warning(request, refusal.detail)
        return redirect(CONSOLE)
    services.admin_log_change(user=request.user, objects=[reply], message="Stopped from the live console")
    messages.success(request, f"Stopped the reply in “{reply.conversation.title}”.")
    return redirect(CONSOLE)


@require_POST
def sweep(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """Finish orphaned replies now, as every process's sweep would within PARLEY_STALE_AFTER (and as
    `manage.py sweep_replies` does): each ends with the fullest text proven for it, announced."""
    require_console_permission(request)
    recovered = async_to_sync(sweep_replies.sweep)(settings.PARLEY_STALE_AFTER)
    services.admin_log_change(user=request.user, objects=recovered, message="Finished by a console sweep")
    messages.success(request, f"Swept {len(recovered)} orphaned {'reply' if len(recovered) == 1 else 'replies'}.")
    return redirect(CONSOLE)


def read(request: HttpRequest, site: AdminSite, conversation_id: str) -> HttpResponse:
    """A user's conversation as the console shows it; every reading is logged."""
    require_console_permission(request)
    state = selectors.conversation_with_messages_any(conversation_id=conversation_id)
    if state is None:
        raise Http404("No such conversation.")
    conversation, conversation_messages = state
    services.admin_log_change(user=request.user, objects=[conversation], message="Read from the live console")
    context = {
        **site.each_context(request),
        "title": f"“{conversation.title}” by {conversation.owner.get_username()}",
        "conversation": conversation,
        "conversation_messages": conversation_messages,
        "console_url": reverse(CONSOLE),
    }
    return render(request, "conversations/console/read.html", context)
