"""``manage.py make_demo_parts --out DIR --count N [--seed S]``: labelled parametric parts for a demo set."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from features.demo_parts import FAMILIES, LABELS_FILE, write_demo_parts


class Command(BaseCommand):
    help = (f"Write N labelled parametric parts ({', '.join(FAMILIES)}) as STEP, STL and DXF, "
            f"plus {LABELS_FILE} (read by `manage.py ingest` to set meta part_type).")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="Folder to write into (created if missing).")
        parser.add_argument("--count", type=int, default=25, help="Number of parts (families in turn).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed: the same seed gives the same parts.")

    def handle(self, *args, out, count, seed, **options):
        if count < 1 or count > 10_000:
            raise CommandError("--count must be between 1 and 10000")
        out_dir = Path(out)
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a folder")
        with tqdm(total=count, unit="part", file=self.stderr, desc="demo parts") as bar:
            manifest = write_demo_parts(out_dir, count=count, seed=seed,
                                        progress=lambda done, total: bar.update(done - bar.n))
        self.stdout.write(f"wrote {len(manifest['parts'])} files for {count} parts to {out_dir} "
                          f"(labels in {out_dir / LABELS_FILE})")
