"""Creates, once, the local operator's superuser, API key and admin token (used by ``make run``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from cadml_site.api.models import ApiKeyScope
from cadml_site.api.services import admin_token_create, api_key_create


class Command(BaseCommand):
    help = ("Creates a superuser, an API key and an admin token the first time it runs, prints them once and writes "
            "them to a credentials file readable only by the owner. Later runs create nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--key-name", default="local")
        parser.add_argument("--key-scope", choices=ApiKeyScope.values, default=ApiKeyScope.READ_WRITE,
                            help="Scope of the API key: read_write (default: the operator's own key) or read.")
        parser.add_argument("--file", default=str(Path(settings.VAR_DIR) / "credentials"))

    def handle(self, *args, username: str, key_name: str, key_scope: str, file: str, **options):
        path = Path(file)
        user_model = get_user_model()
        if path.exists() or user_model.objects.filter(username=username).exists():
            self.stdout.write(f"Credentials were created earlier; they are in {path} (owner-only).")
            return
        password = secrets.token_urlsafe(18)
        with transaction.atomic():
            user_model.objects.create_superuser(username=username, email="", password=password)
            key, key_secret = api_key_create(name=key_name, scope=key_scope)
            token, token_secret = admin_token_create(username=username, name="local")
        lines = [
            f"ADMIN_URL=http://{settings.GUNICORN_BIND}/admin/",
            f"ADMIN_USERNAME={username}",
            f"ADMIN_PASSWORD={password}",
            f"API_KEY={key_secret}",
            f"API_KEY_SCOPE={key.scope}",
            f"ADMIN_TOKEN={token_secret}",
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.stdout.write("Created local credentials (shown once; also saved, owner-only, in %s):" % path)
        for line in lines:
            self.stdout.write("  " + line)
