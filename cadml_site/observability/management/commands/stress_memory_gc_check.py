"""manage.py stress_memory_gc_check: resident memory and gc activity over repeated cycles (issue 7)."""

from __future__ import annotations

from cadml_site.observability.stress_command import StressCommand


class Command(StressCommand):
    help = (
        "Against a live server: repeated cycles of analyze (built-in STL boxes), similarity search and, every "
        "--reload-every cycles, a model reload. Reports the resident memory of the web workers (from the server's "
        "cadml_process_resident_memory_bytes) and its growth per 1000 cycles, and the garbage collector's runs; "
        "fails when the growth exceeds --max-growth-mb, on uncollectable objects, or on any failed request."
    )

    bound_defaults = (120.0, 1000)

    def add_scenario_arguments(self, parser):
        parser.add_argument("--warmup", type=int, default=50, help="Cycles before the first measurement (default 50).")
        parser.add_argument("--files", type=int, default=8, help="Distinct CAD files cycled through (default 8).")
        parser.add_argument("--reload-every", type=int, default=25,
                            help="Reload the active model every N cycles; 0 never (default 25).")
        parser.add_argument("--max-growth-mb", type=float, default=64.0,
                            help="Bound on resident memory growth per 1000 cycles, in MiB (default 64).")

    def run_scenario(self, client, options):
        from tools.stress.scenarios import memory_gc_check

        return memory_gc_check(
            client, feature_version=options["feature_version"],
            bounds=self.bounds(options), warmup=options["warmup"],
            files=options["files"], reload_every=options["reload_every"],
            max_growth_mb_per_1000=options["max_growth_mb"],
        )
