"""Issue 14, "DXF at ezdxf speed": the DXF parse and `POST analyze/` of the text DXF samples against
`ezdxf.readfile` of the same files, in the same run.

1. In process, the text DXF samples (binary DXF left out): `ezdxf.readfile(path)` of each file (the baseline),
   `parse_dxf(data)` (the service's path: scan, the ENTITIES-only read or the document from one-pass tags +
   audit or recover, extents, v5 descriptor), `parse_dxf(data, strategy="ezdxf")` (the reference: no
   ENTITIES-only read, `ezdxf.read` + `doc.audit()` for every sound file, the same extents and descriptor
   code) and `parse_dxf(data, strategy="recover")` (the former path). Sum over the files, median of `--repeat` runs,
   after one warm-up run (fonts, imports), in CPU time of the process (the machine is shared: wall time moves
   with the other processes' load; the parse is single-threaded). Also the parse's parts, from the same
   functions the parser calls, and a table per file: the reader taken, what keeps the file off the
   entities-only read (`dxf_direct.direct_or_reason`), its CPU time against `ezdxf.readfile` of it.
2. Over HTTP (unless --no-http): a private gunicorn (bench_analyze_http.start_server, 2 workers, warm parse
   pools), each text DXF posted sequentially by one client with new bytes each round (trailing blank lines: a
   new sha256, so every request parses), `classify=false`; the sum over the files of the request latency
   (median per file over `--rounds`) against the sum of `ezdxf.readfile` per file (median per file) measured in
   this process in the same run. Goal: <= 1.2x, request included. Also, as a load-independent figure, the CPU
   time of the server's processes (gunicorn master, workers, parse pools: /proc/PID/stat of its session)
   spent on those requests against the CPU time of `ezdxf.readfile` of the same files.
   The server uses DATABASE_URL from the environment (an existing database, migrated here; unset: a throw-away
   SQLite file). Without --broker-url it runs the embedded default (no broker: each new file's thumbnail is
   rendered in the gunicorn worker, after the response unless CADML_EMBEDDED_THUMBNAILS=inline); with
   --broker-url the thumbnail tasks are published to that broker and NOT rendered (no Celery worker is started:
   the request pays the publish, the host none of the render), and the tasks left in its default queue are purged
   at the end (give it a database or vhost of its own).

3. With --thumbnails [ROOT ...] (and nothing else): the CPU time of the DXF thumbnails of the same files (what a
   parse worker renders for each new file after the response) against `ezdxf.readfile`, for this checkout and for
   each ROOT (e.g. an export of the former code), alternated.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_dxf_parse.py [--repeat 5] [--rounds 5] [--no-http]
        [--http-only --server-root /path/to/an/export/of/the/former/code] [--broker-url URL] [--profile]
        [--thumbnails [/path/to/an/export/of/the/former/code]]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ezdxf  # noqa: E402

from features.parsers import dxf as dxf_parser  # noqa: E402
from process_cpu import process_cpu_seconds, server_cpu_when_idle  # noqa: E402  (bench/, beside this script)

HTTP_GOAL = 1.2


def text_dxf_files(samples: Path) -> list[Path]:
    return [p for p in sorted((samples / "dxf").iterdir())
            if p.is_file() and not p.read_bytes().startswith(b"AutoCAD Binary DXF")]


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def cpu_timed(run) -> float:
    """CPU seconds of this process: the in-process figures do not move with the other processes' load."""
    started = time.process_time()
    run()
    return time.process_time() - started


def median_total(run_all, repeat: int) -> float:
    run_all()  # warm-up: imports, fonts of text entities
    return statistics.median(cpu_timed(run_all) for _ in range(repeat))


def parse_parts(datas: list[bytes], repeat: int) -> dict[str, float]:
    """The parts of `parse_dxf(data)` for the files the scan finds sound (the others go through recover): the
    ENTITIES-only read (tried on every sound file), the ezdxf document (loaded from `dxf_tags.compiled_tags`, as
    `ezdxf.read` loads it) and its audit for the files it declines."""
    from ezdxf import disassemble

    from ezdxf.document import Drawing

    from features.descriptors.dxf_curves import decompose
    from features.parsers.dxf_direct import read_direct
    from features.parsers.dxf_tags import compiled_tags

    parts: dict[str, list[float]] = {}

    def add(name, seconds):
        parts.setdefault(name, []).append(seconds)

    for round_ in range(repeat + 1):
        totals: dict[str, float] = {}
        for data in datas:
            started = time.process_time()
            scan = dxf_parser.scan_dxf(data)
            totals["scan"] = totals.get("scan", 0.0) + time.process_time() - started
            if not scan.sound:
                continue
            started = time.process_time()
            direct = read_direct(data, scan, encoding=dxf_parser._dxf_encoding(data))
            totals["entities-only read"] = totals.get("entities-only read", 0.0) + time.process_time() - started
            if direct is not None:
                msp = direct.entities
            else:
                started = time.process_time()
                text = data.decode(dxf_parser._dxf_encoding(data), "surrogateescape")
                tags = compiled_tags(text)  # as the parser loads the document
                doc = Drawing.from_tags(iter(tags)) if tags is not None else ezdxf.read(io.StringIO(text, newline=None))
                totals["ezdxf document"] = totals.get("ezdxf document", 0.0) + time.process_time() - started
                started = time.process_time()
                doc.audit()
                totals["audit"] = totals.get("audit", 0.0) + time.process_time() - started
                msp = doc.modelspace()
            started = time.process_time()
            primitives = list(disassemble.to_primitives(decompose(msp)))
            extents = dxf_parser.primitives_extents(primitives)
            totals["decompose + extents"] = totals.get("decompose + extents", 0.0) + time.process_time() - started
            box = (tuple(extents[0]), tuple(extents[1])) if extents is not None else None
            started = time.process_time()
            dxf_parser.drawing_shape(msp, box, "mm", primitives)
            totals["v5 descriptor"] = totals.get("v5 descriptor", 0.0) + time.process_time() - started
        if round_:  # round 0 is the warm-up
            for name, seconds in totals.items():
                add(name, seconds)
    return {name: statistics.median(values) for name, values in parts.items()}


def profile(files: list[Path]) -> None:
    """cProfile of one pass over the files with each strategy (after a warm-up pass): the share of the parse in
    the main steps."""
    import cProfile
    import pstats

    datas = [p.read_bytes() for p in files]
    steps = {
        "recover": ("ezdxf/recover.py", "read"),
        "ezdxf.read (StringIO)": ("ezdxf/filemanagement.py", "read"),
        "audit": ("ezdxf/document.py", "audit"),
        "entities-only read": ("features/parsers/dxf_direct.py", "read_direct"),
        "compiled tags (one pass)": ("features/parsers/dxf_tags.py", "compiled_tags"),
        "document from tags": ("ezdxf/document.py", "from_tags"),
        "audit (audit_document)": ("features/parsers/dxf.py", "audit_document"),
        "scan_dxf": ("features/parsers/dxf.py", "scan_dxf"),
        "ezdxf.bbox.extents": ("ezdxf/bbox.py", "extents"),
        "primitives_extents": ("features/parsers/dxf.py", "primitives_extents"),
        "decompose (to_primitives)": ("ezdxf/disassemble.py", "to_primitives"),
        "drawing_shape (v5)": ("features/parsers/dxf.py", "drawing_shape"),
    }
    for strategy in ("recover", "auto"):
        for data in datas:
            dxf_parser.parse_dxf(data, strategy=strategy)
        profiler = cProfile.Profile()
        profiler.enable()
        for data in datas:
            dxf_parser.parse_dxf(data, strategy=strategy)
        profiler.disable()
        stats = pstats.Stats(profiler).stats
        total = sum(v[3] for (path, _line, name), v in stats.items() if path.endswith("features/parsers/dxf.py")
                    and name == "parse_dxf")
        print(f"  cProfile, strategy={strategy}: parse_dxf {total * 1000:.0f} ms (profiled) of which")
        for label, (suffix, function) in steps.items():
            cumulative = sum(v[3] for (path, _line, name), v in stats.items()
                             if path.endswith(suffix) and name == function)
            if cumulative:
                print(f"    {label:28s} {cumulative / total:6.1%}")


def in_process(files: list[Path], repeat: int) -> float:
    datas = [p.read_bytes() for p in files]
    readfile = median_total(lambda: [ezdxf.readfile(p) for p in files], repeat)
    fast = median_total(lambda: [dxf_parser.parse_dxf(d) for d in datas], repeat)
    document = median_total(lambda: [dxf_parser.parse_dxf(d, strategy="ezdxf") for d in datas], repeat)
    former = median_total(lambda: [dxf_parser.parse_dxf(d, strategy="recover") for d in datas], repeat)
    readers = [dxf_parser.parse_dxf(d).metadata["reader"] for d in datas]
    print(f"DXF parse in process: {len(files)} text DXF samples, sum over the files, median of {repeat} runs, "
          "CPU time")
    print(f"  ezdxf.readfile                    {readfile * 1000:7.1f} ms  (baseline)")
    print(f"  parse_dxf (service path)          {fast * 1000:7.1f} ms  ratio {fast / readfile:.2f}x"
          f"  (readers: {readers.count('direct')} entities only, {readers.count('read')} ezdxf.read, "
          f"{readers.count('recover')} recover)")
    print(f"  parse_dxf strategy=ezdxf (ref.)   {document * 1000:7.1f} ms  ratio {document / readfile:.2f}x"
          "  (ezdxf.read + doc.audit for every sound file)")
    print(f"  parse_dxf strategy=recover (old)  {former * 1000:7.1f} ms  ratio {former / readfile:.2f}x")
    taken = [(p, d) for p, d, reader in zip(files, datas, readers) if reader == "direct"]
    if taken:
        subset_readfile = median_total(lambda: [ezdxf.readfile(p) for p, _ in taken], repeat)
        subset_fast = median_total(lambda: [dxf_parser.parse_dxf(d) for _, d in taken], repeat)
        subset_document = median_total(lambda: [dxf_parser.parse_dxf(d, strategy="ezdxf") for _, d in taken],
                                       repeat)
        print(f"  of which the {len(taken)} files read from their ENTITIES section alone: ezdxf.readfile "
              f"{subset_readfile * 1000:.1f} ms, parse_dxf {subset_fast * 1000:.1f} ms "
              f"({subset_fast / subset_readfile:.2f}x), strategy=ezdxf {subset_document * 1000:.1f} ms "
              f"({subset_document / subset_readfile:.2f}x)")
    for name, seconds in parse_parts(datas, repeat).items():
        print(f"    part {name:22s} {seconds * 1000:7.1f} ms  = {seconds / readfile:.2f}x readfile")
    per_file(files, datas, repeat)
    return fast / readfile


def per_file(files: list[Path], datas: list[bytes], repeat: int) -> None:
    """Per file: the reader `parse_dxf` takes, what keeps the file off the entities-only read, and the file's
    median CPU time against `ezdxf.readfile` of it."""
    from features.parsers.dxf_direct import direct_or_reason

    print(f"  per file (median of {repeat} runs, CPU time): reader, readfile ms, parse_dxf ms, ratio, "
          "why not entities-only")
    for path, data in zip(files, datas):
        readfile = median_total(lambda: ezdxf.readfile(path), repeat)
        parse = median_total(lambda: dxf_parser.parse_dxf(data), repeat)
        reader = dxf_parser.parse_dxf(data).metadata["reader"]
        why = ""
        if reader != "direct":
            found = direct_or_reason(data, dxf_parser.scan_dxf(data), encoding=dxf_parser._dxf_encoding(data))
            why = found if isinstance(found, str) else "?"
        print(f"    {path.name:40s} {reader:7s} {readfile * 1000:6.1f} {parse * 1000:6.1f} "
              f"{parse / readfile:5.2f}x  {why}")


_THUMBNAIL_CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import ezdxf
from features.thumbnails.render import render_thumbnail
paths, repeat = sys.argv[3:], int(sys.argv[2])
datas = [open(p, "rb").read() for p in paths]

def thumbnails():
    for data in datas:
        try:
            render_thumbnail("dxf", data)
        except Exception:  # a drawing with nothing to draw (the ACIS-only torus) is refused, as in the service
            pass

def cpu_median(run):
    run()
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        run()
        samples.append(time.process_time() - started)
    return statistics.median(samples)

print(json.dumps({"thumbnails": cpu_median(thumbnails),
                  "readfile": cpu_median(lambda: [ezdxf.readfile(p) for p in paths])}))
"""


def thumbnails(files: list[Path], repeat: int, roots: list[Path]) -> None:
    """CPU time of the DXF thumbnails (`render_thumbnail("dxf", data)`: geometry and PNG, what a parse worker does
    for each new file after the response) against `ezdxf.readfile` of the same files, for the code of each root (a
    fresh interpreter per root, the roots alternated twice, so that before and after share the machine's load)."""
    import json
    import subprocess

    print(f"DXF thumbnails in process: {len(files)} text DXF samples, sum over the files, median of {repeat} runs, "
          "CPU time (a fresh interpreter per line)")
    for _ in range(2):
        for root in roots:
            out = subprocess.run([sys.executable, "-c", _THUMBNAIL_CHILD, str(root), str(repeat), *map(str, files)],
                                 check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            found = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {str(root):36s} thumbnails {found['thumbnails'] * 1000:7.1f} ms, ezdxf.readfile "
                  f"{found['readfile'] * 1000:7.1f} ms: ratio {found['thumbnails'] / found['readfile']:.2f}x"
                  f"  (load average {os.getloadavg()[0]:.1f})")


def purge_broker_queue(broker_url: str, queue: str = "celery") -> int:
    """Drop the messages this run left in `queue` of the broker (no worker consumed them); their number."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=5) as connection:
        try:
            return connection.default_channel.queue_purge(queue) or 0
        except connection.channel_errors:  # the queue was never declared
            return 0


def over_http(files: list[Path], rounds: int, server_root: Path, broker_url: str | None = None) -> float:
    from bench_analyze_http import start_server, stop_server

    server, base, session, log_path = start_server(workers=2, root=server_root, broker_url=broker_url)
    database = os.environ.get("DATABASE_URL", "sqlite://").split("://")[0]
    setup = (f"broker {broker_url.split('://')[0]}, thumbnail tasks published, no Celery worker" if broker_url
             else f"no broker, CADML_EMBEDDED_THUMBNAILS={os.environ.get('CADML_EMBEDDED_THUMBNAILS', 'default')}")
    try:
        def post(path: Path, variant: int) -> float:
            data = path.read_bytes() + b"\n" * (variant + 1)  # a new sha256: parsed, not reused
            started = time.perf_counter()
            response = session.post(f"{base}/api/v1/analyze/", files={"file": (path.name, data)},
                                    data={"classify": "false"}, timeout=120)
            seconds = time.perf_counter() - started
            body = response.json()
            if response.status_code != 201 or body.get("reused_file"):
                raise SystemExit(f"{path.name}: {response.status_code} {body} (server log: {log_path})")
            return seconds

        for path in files:  # warm-up: both workers, fonts, imports
            post(path, 1000)
            post(path, 1001)
        request = {p: [] for p in files}
        readfile = {p: [] for p in files}
        server_cpu = readfile_cpu = 0.0
        run_cpu_start = process_cpu_seconds(session=server.pid, with_reaped_children=True)
        for round_ in range(rounds):  # interleaved, so both see the same machine load
            for path in files:
                cpu_before = process_cpu_seconds(session=server.pid, with_reaped_children=True)
                request[path].append(post(path, round_))
                server_cpu += process_cpu_seconds(session=server.pid, with_reaped_children=True) - cpu_before
                readfile[path].append(timed(lambda: ezdxf.readfile(path)))
                readfile_cpu += cpu_timed(lambda: ezdxf.readfile(path))
        run_cpu = server_cpu_when_idle(server.pid) - run_cpu_start
        http_total = sum(statistics.median(v) for v in request.values())
        readfile_total = sum(statistics.median(v) for v in readfile.values())
        live = [timed(lambda: session.get(f"{base}/api/v1/health/live/", timeout=5)) for _ in range(20)]
        print(f"POST analyze/ over HTTP ({server_root}): gunicorn 2 workers, 1 client, {len(files)} text DXF "
              f"samples x {rounds} rounds, sum of per-file medians; database {database}, {setup}")
        print(f"  ezdxf.readfile (this process)     {readfile_total * 1000:7.1f} ms  (baseline)")
        print(f"  POST analyze/                     {http_total * 1000:7.1f} ms  ratio {http_total / readfile_total:.2f}x"
              f"  (goal <= {HTTP_GOAL}x)")
        print(f"  GET health/live/ median           {statistics.median(live) * 1000:7.1f} ms per request")
        print(f"  CPU time, all {rounds} rounds: server processes (gunicorn + parse pools) {server_cpu * 1000:7.0f} ms,"
              f" ezdxf.readfile {readfile_cpu * 1000:7.0f} ms: ratio {server_cpu / readfile_cpu:.2f}x"
              " (moves less with the machine's load than wall time; the client's own CPU is not counted)")
        print(f"  CPU time of the server processes over the whole run, until idle: {run_cpu * 1000:7.0f} ms"
              " (also what ran between the requests: thumbnails rendered after the response)")
        return http_total / readfile_total
    finally:
        stop_server(server)
        if broker_url:
            print(f"  {purge_broker_queue(broker_url)} task(s) left in the broker's queue purged")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--http-only", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile both strategies (in process) and stop.")
    parser.add_argument("--thumbnails", nargs="*", type=Path, metavar="ROOT",
                        help="CPU of the DXF thumbnails against ezdxf.readfile, for this checkout and each ROOT "
                             "(e.g. an export of the former code), alternated; then stop.")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="Serve this checkout over HTTP (e.g. an export of the code before the change).")
    parser.add_argument("--broker-url", default=None,
                        help="HTTP part: publish the server's tasks to this broker (redis://, amqp://); no Celery "
                             "worker is started, and what the run left in the default queue is purged.")
    parser.add_argument("--samples", default=os.environ.get("CADML_SAMPLES_DIR",
                                                            str(ROOT.parent / "shared" / "cad-samples")))
    args = parser.parse_args()
    files = text_dxf_files(Path(args.samples))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.profile:
        profile(files)
        return 0
    if args.thumbnails is not None:
        thumbnails(files, args.repeat, [*args.thumbnails, ROOT])
        return 0
    ok = True
    if not args.http_only:
        ok = in_process(files, args.repeat) <= 1.0
    if not args.no_http:
        ok = over_http(files, args.rounds, args.server_root, args.broker_url) <= HTTP_GOAL and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
