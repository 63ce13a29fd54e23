"""``manage.py vectors_migrate --from v3 --to v4 [--dry-run] [--batch-size N] [--resume RUN_ID]``."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cadml_site.errors import DomainError
from vectors.selectors import migration_preview
from vectors.services import vector_migration_run, vector_migration_start


class Command(BaseCommand):
    help = "Migrate vectors between feature versions (resumable; SIGTERM stops cleanly between batches)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_version")
        parser.add_argument("--to", dest="to_version")
        parser.add_argument("--dry-run", action="store_true", help="Compute statistics only; publish nothing.")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--resume", type=int, default=None, help="Resume an interrupted run by id.")

    def handle(self, *args, from_version, to_version, dry_run, batch_size, resume, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be positive")
        stop = {"requested": False}

        def _on_sigterm(signum, frame):
            stop["requested"] = True
            self.stderr.write("SIGTERM: stopping after the current batch (resume with --resume)")

        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            if resume is None:
                if not from_version or not to_version:
                    raise CommandError("--from and --to are required (or --resume RUN_ID)")
                preview = migration_preview(from_version=from_version, to_version=to_version)
                for warning in preview["warnings"]:
                    self.stderr.write(f"warning: {warning}")
                run = vector_migration_start(from_version=from_version, to_version=to_version, dry_run=dry_run,
                                             actor="manage.py vectors_migrate", enqueue=False)
                run_id = run.pk
            else:
                run_id = resume
            with tqdm(unit="vec", desc=f"migration {run_id}", file=self.stderr) as bar:
                def progress(done, total):
                    bar.total = total
                    bar.n = done
                    bar.refresh()

                run = vector_migration_run(run_id=run_id, batch_size=batch_size, progress=progress,
                                           should_stop=lambda: stop["requested"])
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write(f"migration {run.pk} {run.from_version}->{run.to_version}: {run.status}, "
                          f"{run.processed}/{run.total} vectors")
        if run.stats:
            self.stdout.write(f"counts {run.stats['counts']} stats {run.stats['stats']}")
