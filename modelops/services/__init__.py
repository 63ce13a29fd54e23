"""Model registry services, one module per concern:

* ``configuration``: limits, scanner mode, model directory, the registry row;
* ``audit``: the opcode audit of every scan, one append-only ``ModelReloadAttempt`` per action;
* ``registration``: upload, register by name, register trained bytes (the pipeline's static half);
* ``reload``: reload and rollback through the whole pipeline, the atomic swap;
* ``convergence``: every process converges on the database's active version;
* ``training``: train a classifier and register it.

The names the views, admin, commands, tasks and other apps use are re-exported here.
"""

from modelops.services.audit import opcode_audit_record
from modelops.services.configuration import intake_limits, opcode_mode, scan_limits
from modelops.services.convergence import (
    DatabaseModelSource,
    database_load_sequence,
    model_process_sync,
    model_refresh_if_stale,
)
from modelops.services.registration import (
    model_version_register_bytes,
    model_version_register_from_dir,
    model_version_upload,
)
from modelops.services.reload import model_reload, model_rollback
from modelops.services.training import TrainingResult, model_train_classifier

__all__ = [
    "DatabaseModelSource",
    "TrainingResult",
    "database_load_sequence",
    "intake_limits",
    "model_process_sync",
    "model_refresh_if_stale",
    "model_reload",
    "model_rollback",
    "model_train_classifier",
    "model_version_register_bytes",
    "model_version_register_from_dir",
    "model_version_upload",
    "opcode_audit_record",
    "opcode_mode",
    "scan_limits",
]
