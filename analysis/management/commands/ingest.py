"""``manage.py ingest PATH... [--feature-version vN] [--wait-seconds S]``: import CAD files and folders.

Folders are walked recursively. A `labels.json` (written by `make_demo_parts`) next to files gives their
meta `part_type`. This command keeps each file's original in the cad_originals storage (`cad_file_submit`), then
sends one `features.cad_file_import_stored` Celery task naming its sha256: on a configured broker the tasks run on
the Celery workers, on any host that shares the storage (no path on this host is handed over), without one they run
in this process. Duplicates are skipped; the summary counts successes and failures by reason. SIGTERM stops
cleanly after the file in progress.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analysis.services import cad_file_submit
from analysis.tasks import cad_file_import_stored_task
from features.demo_parts import LABELS_FILE, read_labels
from features.extractors import FEATURE_VERSIONS
from features.services import thumbnail_renders_wait


def collect_files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and p.name != LABELS_FILE and not p.name.startswith("."))
        else:
            raise CommandError(f"{raw} is neither a file nor a folder")
    return found


class Command(BaseCommand):
    help = "Import CAD files and folders (recursively): parse, store, extract and register a vector for each."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Files and folders to import.")
        parser.add_argument("--feature-version", choices=FEATURE_VERSIONS, default=None)
        parser.add_argument("--wait-seconds", type=float, default=None,
                            help="How long to wait for one file's task (default: parse timeout + 60 s).")

    def handle(self, *args, paths, feature_version, wait_seconds, **options):
        files = collect_files(paths)
        if not files:
            raise CommandError("no files to import")
        wait = wait_seconds if wait_seconds is not None else settings.CADML_PARSE_TIMEOUT_SECONDS + 60
        labels_by_folder: dict[Path, dict[str, str]] = {}
        stop = {"requested": False}

        def _on_sigterm(signum, frame):
            stop["requested"] = True
            self.stderr.write("SIGTERM: stopping after the current file")

        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        outcomes: Counter = Counter()
        reasons: Counter = Counter()
        try:
            pending = []
            # Without a broker each task runs here as it is queued: that loop is the work, so it shows progress.
            with tqdm(total=len(files), unit="file", file=self.stderr,
                      desc="queue" if settings.CELERY_BROKER_URL else "parse+extract") as queued:
                for path in files:
                    folder = path.parent
                    if folder not in labels_by_folder:
                        labels_by_folder[folder] = read_labels(folder)
                    label = labels_by_folder[folder].get(path.name)
                    meta = {"part_type": label} if label else None
                    submitted = cad_file_submit(path=str(path.resolve()))
                    if submitted["status"] == "failed":
                        pending.append((path, submitted))
                    else:
                        pending.append((path, cad_file_import_stored_task.delay(
                            submitted["sha256"], submitted["name"], meta, feature_version, str(path))))
                    queued.update(1)
                    if stop["requested"]:
                        break
            with tqdm(total=len(pending), unit="file", file=self.stderr, desc="ingest") as bar:
                for path, result in pending:
                    if stop["requested"]:
                        break
                    try:
                        outcome = result if isinstance(result, dict) else result.get(timeout=wait)
                    except CeleryTimeoutError:
                        outcome = {"status": "failed", "code": "task_timeout", "message": "no answer from the worker"}
                    outcomes[outcome["status"]] += 1
                    if outcome["status"] == "failed":
                        reasons[outcome.get("code", "unknown")] += 1
                        bar.write(f"failed: {path}: {outcome.get('code')}: {outcome.get('message', '')}")
                    bar.update(1)
            if not (stop["requested"] or thumbnail_renders_wait(timeout_seconds=0)):
                # this process's thumbnail runner holds renders (Celery ran the imports here, eagerly: the embedded
                # default, or tests with a broker configured): it must not exit before they are done
                self.stderr.write("waiting for the thumbnails being rendered in the background")
                thumbnail_renders_wait(timeout_seconds=None)
        finally:
            signal.signal(signal.SIGTERM, previous)
        mode = "celery" if settings.CELERY_BROKER_URL else "in process"
        self.stdout.write(f"ingest ({mode}): {outcomes['created']} created, {outcomes['duplicate']} duplicates "
                          f"skipped, {outcomes['failed']} failed of {len(files)} files")
        for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
            self.stdout.write(f"  failed {reason}: {count}")
