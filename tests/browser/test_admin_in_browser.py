"""The admin and the search page in a real browser: Debian's headless chromium driven by Selenium (chromium-driver)
against a live server. Logs in, opens every page the admin registers (each changelist, and one change page where a
row exists) and the search page, runs every confirm-then-act action of the admin (and the cache settings apply page)
through its confirmation page, checks the result page and the audit row naming the actor, and fails on any
JavaScript error or missing static file (the browser's console log, and each <script>/<link> URL requested). Screenshots go to var/screenshots/ (not
committed). `make test` installs chromium and chromium-driver when missing (.ci/browser_deps.sh)."""

from __future__ import annotations

import re
import shutil
import tempfile
import urllib.error
import urllib.request

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from tests.conftest import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
USERNAME, PASSWORD = "ops-browser", "browser-test-password-1"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000", "--disable-dev-shm-usage")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cadml-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Pages:
    """Opens pages, saves a screenshot of each, and checks the console log and the static files of each."""

    def __init__(self, driver, base_url: str):
        self.driver, self.base_url, self.shots, self.checked_static = driver, base_url, 0, set()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str, name: str) -> str:
        self.driver.get(self.base_url + path)
        return self.settled(name)

    def settled(self, name: str) -> str:
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.driver.save_screenshot(str(SCREENSHOTS / f"{self.shots:03d}-{slug}.png"))
        errors = [entry["message"] for entry in self.driver.get_log("browser")
                  if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]]
        assert errors == [], f"{name}: the browser logged errors: {errors}"
        urls = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('script[src], link[href]'))"
            ".map(e => e.src || e.href)")
        for url in urls:
            if url.startswith(self.base_url) and url not in self.checked_static:
                try:
                    with urllib.request.urlopen(url, timeout=30) as response:
                        status = response.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                assert status == 200, f"{name}: {url} answered {status}"
                self.checked_static.add(url)
        return self.driver.page_source

    def run_action(self, changelist: str, action: str, pk, reason: str) -> str:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        self.open(changelist, f"{action} list")
        self.driver.find_element(By.CSS_SELECTOR, f'input[name="_selected_action"][value="{pk}"]').click()
        Select(self.driver.find_element(By.NAME, "action")).select_by_value(action)
        self.driver.find_element(By.NAME, "index").click()
        confirm = self.settled(f"{action} confirmation")
        assert "Yes, I’m sure" in confirm or "Yes, I'm sure" in confirm, f"{action}: no confirmation page"
        assert 'id="action-summary"' in confirm
        self.driver.find_element(By.NAME, "reason").send_keys(reason)
        self.driver.find_element(By.CSS_SELECTOR, 'form input[type="submit"][value^="Yes"]').click()
        result = self.settled(f"{action} result")
        messages = [(item.get_attribute("class"), item.text)
                    for item in self.driver.find_elements(By.CSS_SELECTOR, "ul.messagelist li")]
        assert messages and all(kind == "success" for kind, _ in messages), f"{action}: {messages}"
        return result


def audited(model, actor: str) -> int:
    return model.objects.filter(actor=actor).count()


@pytest.mark.django_db(transaction=True)
def test_admin_pages_and_actions_in_a_real_browser(browser, live_server, django_user_model, settings, tmp_path):
    from selenium.webdriver.common.by import By

    from analysis.services import analysis_create
    from cachectl.models import CacheAuditRecord, CacheSnapshot
    from cachectl.services import cache_settings_apply, cache_settings_confirm
    from cadml_site.api.models import ApiKey, CredentialAuditRecord
    from cadml_site.api.services import api_key_create
    from features.services import cad_file_thumbnail_render
    from modelops.models import ModelReloadAttempt, ModelVersion
    from modelops.security.reference_models import serialise
    from modelops.services import model_version_upload
    from tests.features.cad_builders import make_binary_stl, make_box_triangles
    from tests.modelops.conftest import fit_for_version
    from vectors.models import IndexState, MigrationRun, VectorOpsAudit

    settings.CADML_MODEL_DIR = tmp_path / "models"
    settings.CADML_MODEL_DIR.mkdir()
    django_user_model.objects.create_superuser(USERNAME, "ops@example.com", PASSWORD)
    for size, name in (((10.0, 20.0, 30.0), "bracket.stl"), ((30.0, 60.0, 90.0), "bracket-x3.stl"),
                       ((100.0, 100.0, 2.0), "plate.stl")):
        analysis = analysis_create(data=make_binary_stl(make_box_triangles(size)), name=name, classify=False,
                                   feature_version="v5")
        cad_file_thumbnail_render(cad_file_id=analysis.cad_file_id)  # normally by the on-commit task
        analysis_create(data=make_binary_stl(make_box_triangles(size)), name=name, classify=False,
                        feature_version="v4")  # an older version to migrate from
    versions = [model_version_upload(data=serialise(fit_for_version("v4", seed=seed), container="joblib",
                                                    protocol=4), label=f"m{seed}", feature_version="v4",
                                     actor="setup") for seed in (1, 2)]
    cache_settings_apply(actor="setup", reason="kept", capacity=321)  # snapshots the defaults
    cache_settings_confirm(actor="setup", reason="kept")
    change = cache_settings_apply(actor="setup", reason="to roll back in the browser", capacity=500)
    key, _secret = api_key_create(name="client-to-revoke")
    pages = Pages(browser, live_server.url)

    # log in through the admin's login form
    pages.open("/admin/login/?next=/admin/", "login")
    browser.find_element(By.NAME, "username").send_keys(USERNAME)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, 'input[type="submit"]').click()
    index = pages.settled("admin index")
    assert "Log out" in index or "logout" in index

    # every confirm-then-act action of the admin, through its confirmation page; each audited with the actor
    state = IndexState.objects.get(feature_version="v5")
    older = IndexState.objects.get(feature_version="v4")
    steps = [
        ("/admin/cachectl/cachesettingschange/", "roll_back", change.pk, CacheAuditRecord),
        ("/admin/cachectl/cachesnapshot/", "restore", CacheSnapshot.objects.order_by("id").first().pk,
         CacheAuditRecord),
        ("/admin/modelops/modelversion/", "activate", versions[0].pk, ModelReloadAttempt),
        ("/admin/modelops/modelversion/", "activate", versions[1].pk, ModelReloadAttempt),
        ("/admin/modelops/modelversion/", "rollback", versions[1].pk, ModelReloadAttempt),
        ("/admin/vectors/indexstate/", "drill", state.pk, VectorOpsAudit),
        ("/admin/vectors/indexstate/", "recover_now", state.pk, VectorOpsAudit),
        ("/admin/vectors/indexstate/", "rebuild", state.pk, VectorOpsAudit),
        ("/admin/vectors/indexstate/", "migrate_to_served", older.pk, VectorOpsAudit),
        ("/admin/cadml_api/apikey/", "revoke", key.pk, CredentialAuditRecord),
    ]
    for changelist, action, pk, audit_model in steps:
        before = audited(audit_model, USERNAME)
        pages.run_action(changelist, action, pk, f"browser test: {action}")
        assert audited(audit_model, USERNAME) == before + 1, f"{action}: no audit row naming {USERNAME}"
        if action != "migrate_to_served":  # a migration's audit row records the run, its reason is in the admin log
            assert audit_model.objects.filter(actor=USERNAME).order_by("-id").first().reason == f"browser test: {action}"
        assert LogEntry.objects.filter(user__username=USERNAME, change_message=f"{action}: browser test: {action}"
                                       ).exists(), f"{action}: no admin log entry"
    # the cache settings apply page: the form, its confirmation, then the settings page with the new window
    cache_settings_confirm(actor="setup", reason="closes the restore's window")
    pages.open("/admin/cachectl/cachesettings/", "cache settings")
    browser.find_element(By.ID, "cache-settings-apply-link").click()
    pages.settled("cache settings apply form")
    capacity = browser.find_element(By.NAME, "capacity")
    capacity.clear()
    capacity.send_keys("777")
    browser.find_element(By.CSS_SELECTOR, '#cache-settings-apply input[type="submit"]').click()
    confirm = pages.settled("cache settings apply confirmation")
    assert 'id="action-summary"' in confirm and "<td>777</td>" in confirm
    browser.find_element(By.NAME, "reason").send_keys("browser test: apply")
    browser.find_element(By.CSS_SELECTOR, 'form input[type="submit"][value^="Yes"]').click()
    applied = pages.settled("cache settings applied")
    assert "Rollback window of change #" in applied and 'id="cachectl-countdown"' in applied
    assert CacheAuditRecord.objects.filter(actor=USERNAME, action="apply", reason="browser test: apply").exists()
    assert LogEntry.objects.filter(user__username=USERNAME, change_message="apply: browser test: apply").exists()
    assert ModelVersion.objects.get(status="active").pk == versions[0].pk  # rolled back to m1
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert not IndexState.objects.get(pk=state.pk).degraded  # drilled, then recovered
    assert MigrationRun.objects.get(actor=USERNAME).status == "completed"

    # every page the admin registers: its changelist, and one change page where a row exists
    opened = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        html = pages.open(changelist, f"{opts.app_label} {opts.model_name} list")
        assert "Server Error" not in html and 'id="content"' in html, changelist
        row = model.objects.order_by("pk").first()
        if row is not None:
            change_page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            html = pages.open(change_page, f"{opts.app_label} {opts.model_name} page")
            assert 'id="content"' in html, change_page
        opened += 1
    assert opened == len(admin.site._registry) >= 20

    # the thumbnails the CAD file list shows load as pictures
    pages.open("/admin/features/cadfile/", "cad files with thumbnails")
    pictures = browser.find_elements(By.CSS_SELECTOR, "img[src*='/thumbnail/']")
    assert len(pictures) == 3
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) == 256 for img in pictures)

    # the search page: pick a stored part, then upload one
    pages.open("/search/?q=bracket", "search by name")
    browser.find_element(By.PARTIAL_LINK_TEXT, "find its nearest parts").click()
    results = pages.settled("search results of a stored part")
    assert "same shape, scale" in results
    upload = tmp_path / "query.stl"
    upload.write_bytes(make_binary_stl(make_box_triangles((10.0, 20.0, 30.0))))
    browser.find_element(By.NAME, "file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()
    uploaded = pages.settled("search results of an upload")
    assert "exact copy" in uploaded and "same shape, scale ×3.0000" in uploaded and "similar" in uploaded
    cards = browser.find_elements(By.CSS_SELECTOR, ".card.result img")
    assert len(cards) == 3 and all(browser.execute_script("return arguments[0].naturalWidth", img) == 256
                                   for img in cards)
    links = [a.get_attribute("href") for a in browser.find_elements(By.LINK_TEXT, "download")]
    assert len(links) == 4  # the query and its three nearest parts
