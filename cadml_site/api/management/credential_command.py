"""The shared part of the commands that create one credential and print its secret."""

from __future__ import annotations

from typing import Any, Callable

from django.core.management.base import BaseCommand, CommandError

from cadml_site.errors import DomainError

SHOWN_ONCE = "it is not kept and cannot be shown again:"


class CreateCredentialCommand(BaseCommand):
    """Calls a credential service that returns ``(row, secret)`` and prints the secret once, alone on the last
    line; a domain error (taken name, unknown or non-staff user, ...) becomes a ``CommandError``."""

    def create_and_print(self, create: Callable[..., tuple[Any, str]], headline: Callable[[Any], str], **kwargs):
        try:
            row, secret = create(**kwargs)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{headline(row)} {SHOWN_ONCE}")
        self.stdout.write(secret)
