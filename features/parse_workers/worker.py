"""The body of a parse worker process. Imported by the forkserver (`set_forkserver_preload`) so that
OCP, ezdxf and trimesh are imported once and every forked worker starts warm.

Protocol on the duplex pipe: the worker sends ("ready", pid) once, then answers each task, sent as
(task_id, fmt, op) followed by the raw bytes (send_bytes: no pickled copy of the upload), with
("ok", task_id, summary_dict) for op "parse" (png bytes for op "thumbnail") or ("error", task_id | None, error_payload, recycle). None means "exit".
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import traceback

from features.parsers.errors import CadParseError
from features.parsers.format_parsers import parse_format
from features.parsers.step_iges import preload as preload_occt
from features.thumbnails.render import render_thumbnail

# Heavy imports happen here, once per forkserver (inherited by every worker it forks).
preload_occt()
import ezdxf  # noqa: E402,F401
import trimesh.exchange.obj  # noqa: E402,F401
from ezdxf import bbox as _ezdxf_bbox  # noqa: E402,F401
from ezdxf import recover as _ezdxf_recover  # noqa: E402,F401


def _limit_memory(limit_bytes: int | None) -> None:
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def _quiet_stdout() -> None:
    """OpenCASCADE prints progress to stdout; keep it out of the server's logs."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    logging.getLogger("ezdxf").setLevel(logging.ERROR)


def _memory_error(limit: int | None) -> dict:
    return CadParseError(
        "parsing exceeded the worker memory limit",
        code="parse_memory_limit",
        context={"memory_limit_bytes": limit},
    ).to_payload()


def worker_main(conn, memory_limit_bytes: int | None, options: dict) -> None:
    _quiet_stdout()
    _limit_memory(memory_limit_bytes)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
            if message is None:
                return
            task_id, fmt, *rest = message
            op = rest[0] if rest else "parse"
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        except MemoryError:  # the upload alone does not fit under the limit
            conn.send(("error", None, _memory_error(memory_limit_bytes), True))
            return
        try:
            if op == "thumbnail":
                reply = ("ok", task_id, render_thumbnail(fmt, data))
            else:
                reply = ("ok", task_id, parse_format(fmt, data, **options).to_dict())
        except CadParseError as exc:
            reply = ("error", task_id, exc.to_payload(), False)
        except MemoryError:
            reply = ("error", task_id, _memory_error(memory_limit_bytes), True)
        except RecursionError:
            reply = ("error", task_id, CadParseError("the file nests too deeply to parse").to_payload(), False)
        except Exception as exc:  # a parser library failing on hostile input: corrupt file, logged
            traceback.print_exc(file=sys.stderr)
            reply = (
                "error",
                task_id,
                CadParseError(
                    f"the {fmt} parser failed: {type(exc).__name__}",
                    context={"error": type(exc).__name__},
                ).to_payload(),
                False,
            )
        del data, message
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        if reply[0] == "error" and reply[3]:
            return
