import pytest
from django.contrib.admin.models import LogEntry

from tests.vectors.conftest import make_vectors, register
from vectors.models import IndexEvent, IndexState, VectorOpsAudit
from vectors.services import index_degrade_drill, index_recover

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops-admin", password="x" * 20)
    client.force_login(user)
    return client


def test_degraded_history_shows_a_timeline_of_spells(staff_client):
    register("v4", make_vectors(5, 24))
    index_degrade_drill(feature_version="v4", reason="first", actor="t")
    index_recover(feature_version="v4", actor="t")
    index_degrade_drill(feature_version="v4", reason="second", actor="t")
    page = staff_client.get("/admin/vectors/indexevent/")
    html = page.content.decode()
    assert page.status_code == 200 and "degraded-timeline" in html
    assert html.count('class="spell"') == 2 and "#c62828" in html  # one closed spell, one ongoing
    assert staff_client.get("/admin/vectors/indexevent/add/").status_code == 403


def test_recover_now_asks_for_a_reason_then_recovers_and_logs(staff_client):
    register("v4", make_vectors(5, 24))
    index_degrade_drill(feature_version="v4", reason="drill", actor="t")
    state = IndexState.objects.get()
    confirm = staff_client.post("/admin/vectors/indexstate/", {"action": "recover_now", "_selected_action": [state.pk]})
    assert confirm.status_code == 200 and b"Yes, I'm sure" in confirm.content
    assert IndexState.objects.get().degraded  # nothing happened yet
    done = staff_client.post("/admin/vectors/indexstate/", {"action": "recover_now", "_selected_action": [state.pk],
                                                            "post": "yes", "reason": "drill finished"})
    assert done.status_code == 302
    assert not IndexState.objects.get().degraded
    assert VectorOpsAudit.objects.get(action="index_recover").reason == "drill finished"
    assert LogEntry.objects.get().change_message == "recover_now: drill finished"
    assert IndexEvent.objects.filter(event="restored").exists()


def test_rebuild_action_and_read_only_pages(staff_client):
    register("v4", make_vectors(5, 24))
    state = IndexState.objects.get()
    staff_client.post("/admin/vectors/indexstate/", {"action": "rebuild", "_selected_action": [state.pk],
                                                     "post": "yes", "reason": "fresh snapshot"})
    assert IndexState.objects.get().snapshot_generation == 1
    for url in ("/admin/vectors/indexstate/", "/admin/vectors/migrationrun/", "/admin/vectors/vector/",
                "/admin/vectors/vectoropsaudit/"):
        assert staff_client.get(url).status_code == 200, url
