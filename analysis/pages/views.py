"""The search page for people (any active user, behind Django's login): upload a part or pick a stored one, see its
nearest parts as thumbnails with their match kind, score, format and name, and download any of them.

An upload is analysed without registering its vector (the library is unchanged) unless the user ticks "add to the
library", which needs the `vectors.add_vector` permission. Plain Django templates, no script, no CDN.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from analysis.pages.forms import RESULTS_SHOWN, PartPickForm, PartUploadForm
from analysis.services import analysis_create, cad_file_similar_parts
from cadml_site.api.upload_limits import UploadSizeLimitHandler
from cadml_site.errors import DomainError
from features import selectors
from features.file_responses import stored_file_response
from features.services import upload_read, upload_refused

LOGIN_URL = reverse_lazy("parts:login")
ADD_PERMISSION = "vectors.add_vector"


class PartLoginView(auth_views.LoginView):
    template_name = "parts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return str(reverse_lazy("parts:search"))


class PartLogoutView(auth_views.LogoutView):
    next_page = LOGIN_URL


def _page(request, *, upload_form=None, pick_form=None, status=200, **context):
    can_add = request.user.has_perm(ADD_PERMISSION)
    if "query" not in context and "searched" not in context:
        context.setdefault("recent", selectors.recent_cad_files())
    return render(request, "parts/search.html", {
        "upload_form": upload_form or PartUploadForm(can_add=can_add),
        "pick_form": pick_form or PartPickForm(),
        "can_add": can_add,
        **context,
    }, status=status)


def _results_context(query_file, found: dict) -> dict:
    return {
        "query": query_file,
        "results": selectors.found_parts(found.get("results", [])),
        "feature_version": found.get("feature_version"),
        "degraded": bool(found.get("degraded")),
    }


@method_decorator(csrf_exempt, name="dispatch")  # the upload limit goes in before the CSRF check reads the body
class PartSearchView(LoginRequiredMixin, View):
    login_url = LOGIN_URL

    def get(self, request):
        pick = PartPickForm(request.GET or None)
        if not request.GET or not pick.is_valid():
            return _page(request, pick_form=pick)
        sha256 = pick.cleaned_data.get("file")
        if sha256:
            try:
                cad_file = selectors.cad_file_get(sha256=sha256)
                found = cad_file_similar_parts(cad_file=cad_file, k=RESULTS_SHOWN)
            except DomainError as exc:
                return _page(request, pick_form=pick, error=exc.message, status=exc.status)
            return _page(request, pick_form=pick, **_results_context(cad_file, found))
        return _page(request, pick_form=pick, matches=selectors.cad_file_search_by_name(query=pick.cleaned_data["q"]),
                     searched=pick.cleaned_data["q"])

    def post(self, request):
        request.upload_handlers.insert(0, UploadSizeLimitHandler(
            request, limit=settings.CADML_UPLOAD_MAX_BYTES, refuse=upload_refused))
        try:
            return csrf_protect(self._upload)(request)
        except DomainError as exc:  # refused while it streamed in (413): nothing was read or stored
            return _page(request, error=exc.message, status=exc.status)

    def _upload(self, request):
        can_add = request.user.has_perm(ADD_PERMISSION)
        form = PartUploadForm(request.POST, request.FILES, can_add=can_add)
        if not form.is_valid():
            return _page(request, upload_form=form, status=400)
        upload = form.cleaned_data["file"]
        register = can_add and form.cleaned_data.get("add_to_library", False)
        try:
            analysis = analysis_create(data=upload_read(upload=upload), name=upload.name or "",
                                       register_vector=register, classify=False, similar_k=RESULTS_SHOWN)
        except DomainError as exc:
            return _page(request, upload_form=form, error=exc.message, status=exc.status)
        similar = analysis.sections.get("similar", {})
        context = _results_context(analysis.cad_file, {**similar, "feature_version": analysis.feature_version})
        if similar.get("status") == "error":
            context["error"] = similar.get("message")
        return _page(request, upload_form=PartUploadForm(can_add=can_add), registered=register, **context)


def _stored_or_404(selector, **kwargs):
    """A stored file (original or thumbnail) from ``selector``; a page 404 when the selector refuses."""
    try:
        return selector(**kwargs)
    except DomainError as exc:
        raise Http404(exc.message) from None


class PartThumbnailView(LoginRequiredMixin, View):
    login_url = LOGIN_URL

    def get(self, request, sha256: str):
        thumbnail = _stored_or_404(selectors.cad_file_thumbnail, sha256=sha256)
        return stored_file_response(thumbnail, attachment=False, etag=selectors.thumbnail_etag(thumbnail.cad_file),
                                    cache=True)


class PartDownloadView(LoginRequiredMixin, View):
    login_url = LOGIN_URL

    def get(self, request, sha256: str):
        original = _stored_or_404(selectors.cad_file_original, sha256=sha256)
        return stored_file_response(original, attachment=True)
