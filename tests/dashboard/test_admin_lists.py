"""Every registered admin list: names that read right, filters, search and ordering that work, confirmation pages
that say what they will do and to how many rows, and no boolean icon that makes a healthy index look broken."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.vectors.conftest import make_vectors, register

pytestmark = pytest.mark.django_db
OURS = ("features", "vectors", "modelops", "cachectl", "analysis", "cadml_api")
SINGLETONS = {"cachectl.CacheSettings"}


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops-root", password="x" * 20))
    return client


def our_admins():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()
            if model._meta.app_label in OURS]


def test_verbose_names_are_english():
    for model, _ in our_admins():
        singular, plural = str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
        assert not re.search(r"[^aeiou]ys$", plural), plural  # "entrys"
        assert not plural.endswith(("ss", "xs", "chs", "shs")), plural  # "analysiss"
    names = {m._meta.label: str(m._meta.verbose_name_plural) for m, _ in our_admins()}
    assert names["modelops.OpcodeAuditEntry"] == "opcode audit entries"
    assert names["vectors.IndexState"] == "indexes"


@pytest.mark.parametrize("label", sorted(m._meta.label for m, _ in our_admins()))
def test_every_list_filters_searches_orders_and_renders(staff_client, label):
    model = next(m for m, _ in our_admins() if m._meta.label == label)
    model_admin = admin.site._registry[model]
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if label not in SINGLETONS:
        assert model_admin.list_filter, f"{label} has no filter"
        assert model_admin.search_fields, f"{label} has no search"
        assert model_admin.get_ordering(None), f"{label} has no explicit ordering"
    page = staff_client.get(url)
    assert page.status_code == 200, label
    if model_admin.search_fields:
        assert staff_client.get(url, {"q": "nothing-matches-this"}).status_code == 200
    # sorting by every sortable column works
    for index in range(len(model_admin.list_display)):
        assert staff_client.get(url, {"o": str(index + 1)}).status_code == 200, (label, index)


def test_healthy_index_reads_healthy_not_a_red_icon(staff_client):
    from vectors.models import IndexState
    from vectors.services import index_degrade_drill

    register("v4", make_vectors(5, 24))
    register("v3", make_vectors(5, 22), prefix="v3")
    index_degrade_drill(feature_version="v3", reason="drill", actor="t")
    healthy = IndexState.objects.get(feature_version="v4")
    detail = staff_client.get(reverse("admin:vectors_indexstate_change", args=[healthy.pk])).content.decode()
    assert "icon-no.svg" not in detail and "icon-yes.svg" not in detail
    assert re.search(r"Health:</label>\s*<div class=\"readonly\">healthy</div>", detail)
    listing = staff_client.get("/admin/vectors/indexstate/").content.decode()
    assert "icon-no.svg" not in listing
    assert health_cells(listing) == ["degraded since", "healthy"]  # v3, v4
    filtered = staff_client.get("/admin/vectors/indexstate/", {"health": "degraded"}).content.decode()
    assert health_cells(filtered) == ["degraded since"]


def health_cells(html: str) -> list[str]:
    return [cell if cell == "healthy" else cell[:len("degraded since")]
            for cell in re.findall(r'<td class="field-health">([^<]*)</td>', html)]


def test_cache_settings_page_says_what_it_is(staff_client):
    page = staff_client.get("/admin/cachectl/cachesettings/").content.decode()
    assert "0 cache settings" not in page
    assert "Cache settings in force" in page
    assert "environment&#x27;s defaults" in page or "environment's defaults" in page
    from cachectl.services import cache_settings_apply

    cache_settings_apply(actor="ops-alice", reason="more room", capacity=3000)
    page = staff_client.get("/admin/cachectl/cachesettings/").content.decode()
    assert "capacity <strong>3000</strong>" in page and "no change has been applied yet" not in page


def test_confirmation_pages_say_what_and_how_many(staff_client):
    from vectors.models import IndexState

    register("v4", make_vectors(5, 24))
    register("v3", make_vectors(5, 22), prefix="v3")
    pks = list(IndexState.objects.values_list("pk", flat=True))
    page = staff_client.post("/admin/vectors/indexstate/", {"action": "rebuild", "_selected_action": pks})
    html = page.content.decode()
    assert page.status_code == 200
    assert re.search(r'<strong id="action-row-count">2</strong>\s*indexes', html)
    assert "Builds a new Faiss index snapshot" in html and "ops-root" in html
    one = staff_client.post("/admin/vectors/indexstate/", {"action": "recover_now", "_selected_action": pks[:1]})
    assert re.search(r'<strong id="action-row-count">1</strong>\s*index:', one.content.decode())
    assert "ignoring the retry backoff" in one.content.decode()
