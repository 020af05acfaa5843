"""Uploading a file and reading it back: `POST /api/uploads/`, `GET|DELETE /api/uploads/<id>/`,
`GET /api/uploads/<id>/content`. Only the owner reaches a file, and a share link's viewers the
files of the messages the link shows (`may_view`)."""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse

from ..http import ApiError, api_view
from ..models import Upload
from ..sharing import selectors as shares
from . import services
from .sniff import Rejected, clean_name, prepare

MULTIPART_SLACK = 64 * 1024  # bytes of multipart framing and fields allowed beyond the file itself


@api_view("POST")
def upload_collection(request: HttpRequest) -> HttpResponse:
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number.") from None
    if length > settings.PARLEY_UPLOAD_MAX_BYTES + MULTIPART_SLACK:  # refused before the body is read
        raise ApiError(413, f"Files may be at most {settings.PARLEY_UPLOAD_MAX_BYTES} bytes.", code="too_large")
    uploaded = request.FILES.get("file")
    if uploaded is None:
        raise ApiError(400, "Send the file as multipart/form-data in a field named file.", code="invalid_field")
    if uploaded.size > settings.PARLEY_UPLOAD_MAX_BYTES:
        raise ApiError(413, f"Files may be at most {settings.PARLEY_UPLOAD_MAX_BYTES} bytes.", code="too_large")
    name = clean_name(uploaded.name or "")
    try:
        prepared = prepare(b"".join(uploaded.chunks()), name=name, declared_type=uploaded.content_type or "")
    except Rejected as rejected:
        raise ApiError(rejected.status, rejected.detail, code=rejected.code) from None
    upload = services.upload_create(owner=request.user, name=name, prepared=prepared)
    return JsonResponse(upload_payload(upload), status=201)


@api_view("GET", "DELETE")
def upload_detail(request: HttpRequest, upload_id: str) -> HttpResponse:
    upload = _visible_upload(request, upload_id)
    if request.method == "DELETE":
        if upload.owner_id != request.user.pk or upload.message_id is not None:
            raise ApiError(409, "Only an upload not yet sent can be removed; delete its conversation instead.")
        upload.delete()
        return HttpResponse(status=204)
    return JsonResponse(upload_payload(upload))


@api_view("GET", anonymous=True)
def upload_content(request: HttpRequest, upload_id: str) -> HttpResponse:
    """The file itself: images inline, anything else as a download; never sniffed by the browser.
    A share link's viewer, logged in or not, names the link: `?share=<link id>`."""
    if not request.user.is_authenticated and "share" not in request.GET:
        raise ApiError(401, "Authentication required: log in first.")
    upload = _visible_upload(request, upload_id)
    response = FileResponse(
        upload.file.open("rb"),
        content_type=upload.content_type,
        as_attachment=upload.kind != Upload.Kind.IMAGE,
        filename=upload.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # A viewer's browser asks again each time, so revoking the link takes the file away at once.
    response["Cache-Control"] = "private, no-cache" if "share" in request.GET else "private, max-age=3600"
    return response


def upload_payload(upload: Upload) -> dict:
    return {"id": str(upload.id), "name": upload.name, "content_type": upload.content_type, "size": upload.size}


def may_view(request: HttpRequest, upload: Upload) -> bool:
    """Who may read a file: its owner, and the viewers of an active share link (`?share=<link id>`)
    that shows the file's message (a snapshot: only messages up to the one it froze at)."""
    if request.user.is_authenticated and upload.owner_id == request.user.pk:
        return True
    link_id = request.GET.get("share")
    if not link_id or upload.message_id is None:
        return False
    return shares.share_shows_message(link_id=link_id, user=request.user, message_id=upload.message_id)


def _visible_upload(request: HttpRequest, upload_id: str) -> Upload:
    upload = Upload.objects.filter(id=upload_id).first()  # the URL pattern admits only UUIDs
    if upload is None or not may_view(request, upload):
        raise ApiError(404, "Upload not found.")
    return upload
