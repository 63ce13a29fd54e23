"""What sending a thumbnail task costs the web process, with and without asking for its result.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_task_publish.py [--sends 2000]
        [--broker amqp://guest:guest@127.0.0.1:5672//=rpc:// --broker redis://127.0.0.1:6379/9=redis://127.0.0.1:6379/9]

Every new file sends one `features.cad_file_thumbnail` task after its response (`features.services._thumbnail_send`).
The task ignores its result (nobody reads it: the row records the outcome). This times, per broker and result
backend, `task.delay(id)` (the code's send) against `task.apply_async((id,), ignore_result=False)` (a send that asks
for the result, as the task did before), one of each in turn, in this process: wall and CPU time per send (medians)
and their ratio. With the rpc backend (the default with an amqp broker) a send that asks for a result first declares
the sender's reply queue (a broker round trip each time: the queue expires, so kombu does not remember it); with the
redis backend it subscribes to the result's channel. Each send goes to a private queue, deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from vector_bench_env import bench_environment  # bench/, beside this script

DEFAULT_BROKERS = ["amqp://guest:guest@127.0.0.1:5672//=rpc://",
                   "redis://127.0.0.1:6379/9=redis://127.0.0.1:6379/9"]


def measure(broker: str, backend: str, sends: int) -> dict:
    from celery import Celery
    from kombu import Connection

    import features.tasks  # noqa: F401  registers the shared task in every app

    queue = f"bench-task-publish-{uuid.uuid4().hex[:8]}"
    sender = Celery("bench-task-publish", broker=broker, backend=backend, set_as_current=False)
    sender.conf.update(task_default_queue=queue, task_serializer="json", accept_content=["json"],
                       result_serializer="json")
    task = sender.tasks["features.cad_file_thumbnail"]  # a shared task: registered in this app too
    calls = {"delay (the code: no result asked)": lambda i: task.delay(i),
             "asking for the result (before)": lambda i: task.apply_async((i,), ignore_result=False)}
    timings = {name: ([], []) for name in calls}
    try:
        for i in range(20):  # connections, the producer pool, the reply queue
            for call in calls.values():
                call(i)
        for i in range(sends):
            for name, call in calls.items():
                wall, cpu = time.perf_counter(), time.thread_time()
                call(i)
                timings[name][1].append(time.thread_time() - cpu)
                timings[name][0].append(time.perf_counter() - wall)
    finally:
        with Connection(broker, connect_timeout=5) as connection:
            channel = connection.channel()
            if broker.startswith("redis"):  # the queue's list and kombu's binding keys
                channel.client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            else:  # and the reply queue the sends that asked for a result declared (it would expire in a day)
                channel.queue_delete(queue)
                connection.channel().queue_delete(sender.thread_oid)
        sender.close()
    return {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--broker", action="append", help="BROKER_URL=RESULT_BACKEND (repeatable)")
    args = parser.parse_args()
    database = f"sqlite:///{Path('/tmp') / f'bench-task-publish-{os.getpid()}.sqlite3'}"
    bench_environment(database, var_prefix="cadml-task-publish-bench-", unset=("CELERY_BROKER_URL",))
    print(f"{args.sends} sends of each kind, alternated; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    for spec in args.broker or DEFAULT_BROKERS:
        broker, _, backend = spec.partition("=")
        result = measure(broker, backend, args.sends)
        (now_wall, now_cpu), (before_wall, before_cpu) = result.values()
        print(f"{broker.split('://')[0]} broker, {backend.split('://')[0]} results:")
        for name, (wall, cpu) in result.items():
            print(f"  {name:<36} wall {wall * 1e3:7.3f} ms   CPU {cpu * 1e3:7.3f} ms")
        print(f"  now / before: {now_wall / before_wall:.2f}x wall, {now_cpu / before_cpu:.2f}x CPU")
    Path(database.removeprefix("sqlite:///")).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
