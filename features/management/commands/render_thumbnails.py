"""``manage.py render_thumbnails [--retry-failed] [--limit N] [--dry-run]``: render the missing thumbnails."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cadml_site.errors import ServiceUnavailable
from features.selectors import cad_files_without_thumbnail
from features.services import cad_file_thumbnail_render


class Command(BaseCommand):
    help = ("Render the thumbnail of every stored file that has none (from its original in the cad_originals "
            "storage, in the parse pool). Files whose render failed are skipped unless --retry-failed.")

    def add_arguments(self, parser):
        parser.add_argument("--retry-failed", action="store_true", help="Also try files whose render failed.")
        parser.add_argument("--limit", type=int, default=0, help="Render at most N files (0: all).")
        parser.add_argument("--dry-run", action="store_true", help="Only count the files that would be rendered.")

    def handle(self, *args, retry_failed, limit, dry_run, **options):
        if limit < 0:
            raise CommandError("--limit must be 0 or more")
        rows = cad_files_without_thumbnail(include_failed=retry_failed)
        ids = list(rows.values_list("id", flat=True)[:limit] if limit else rows.values_list("id", flat=True))
        if dry_run:
            self.stdout.write(f"{len(ids)} file(s) without a thumbnail would be rendered")
            return
        stopping = []
        previous = signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        counts: dict[str, int] = {}
        try:
            for cad_file_id in tqdm(ids, unit="file", file=self.stderr, desc="thumbnails"):
                if stopping:
                    self.stderr.write("SIGTERM: stopping after the current file")
                    break
                try:
                    outcome = cad_file_thumbnail_render(cad_file_id=cad_file_id, force=retry_failed)
                except ServiceUnavailable as exc:
                    raise CommandError(f"stopped: {exc.message} ({exc.code}); run the command again") from None
                counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
        finally:
            signal.signal(signal.SIGTERM, previous)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to do"
        self.stdout.write(f"thumbnails: {summary}")
