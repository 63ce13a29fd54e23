"""``manage.py cache_prewarm [--limit N] [--reason TEXT]``: prewarm the feature cache in every process."""

from __future__ import annotations

import getpass
import signal

from django.core.management.base import BaseCommand, CommandError

from cachectl.services import cache_prewarm
from cadml_site.errors import DomainError


class Command(BaseCommand):
    help = ("Load feature cache entries from the stored features in priority order (recent hits, recently "
            "referenced vectors, low-dimension high-frequency entries). Every worker process replays the "
            "same plan within a second of its next lookup. SIGTERM stops after the current entry.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None,
                            help="Entries to load (default and maximum: the capacity; at most 100000).")
        parser.add_argument("--reason", default="", help="Why (recorded in the audit trail).")

    def handle(self, *args, limit, reason, **options):
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        stop = {"requested": False}

        def on_sigterm(signum, frame):
            stop["requested"] = True
            self.stderr.write("SIGTERM: stopping after the current entry")

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  {done}/{total} entries")

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            run = cache_prewarm(actor=f"manage.py:{user}", limit=limit, reason=reason, progress=progress,
                                should_stop=lambda: stop["requested"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            signal.signal(signal.SIGTERM, previous)
        tiers = ", ".join(f"{tier}={count}" for tier, count in run.tiers.items())
        self.stdout.write(self.style.SUCCESS(
            f"prewarm generation {run.generation}: limit {run.limit}; planned {tiers}; "
            f"loaded {run.loaded}, skipped {run.skipped}, failed {run.failed}"
            + (" (stopped by SIGTERM)" if stop["requested"] else "")
        ))
