"""Scan a model file without loading it: exit 0 clean, 1 blocked, 2 error (unreadable, malformed)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from modelops.security.allowlist import default_allowlist
from modelops.security.errors import ModelSecurityError, OpcodeBlocked
from modelops.security.pipeline import scan_bytes
from modelops.security.scanner import MODES
from modelops.services import intake_limits, opcode_audit_record, opcode_mode, scan_limits


class Command(BaseCommand):
    help = "Statically scan a pickle/joblib model file (never loads it). Exit 0 clean, 1 blocked, 2 error."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the model file to scan (operator CLI; nothing is loaded).")
        parser.add_argument("--mode", choices=MODES, default=None, help="Scanner mode (default: the configured one).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--record", action="store_true", help="Add what the scan saw to the opcode audit.")

    def handle(self, *args, **options):
        mode = options["mode"] or opcode_mode()
        try:
            with open(options["file"], "rb") as fh:
                raw = fh.read(intake_limits().max_bytes + 1)
        except OSError as exc:
            self._emit(options, {"status": "error", "code": "unreadable", "message": str(exc)})
            sys.exit(2)
        try:
            blob, report = scan_bytes(raw, mode=mode, allowlist=default_allowlist(), intake_limits=intake_limits(),
                                      scan_limits=scan_limits())
        except ModelSecurityError as exc:
            if options["record"] and exc.report is not None:
                opcode_audit_record(report=exc.report, tag=exc.context.get("sha256", "")[:12] or "cli")
            payload = {"status": "blocked" if isinstance(exc, OpcodeBlocked) else "error", **exc.as_dict(),
                       "report": exc.report.as_dict() if exc.report is not None else None}
            self._emit(options, payload)
            sys.exit(1 if isinstance(exc, OpcodeBlocked) else 2)
        if options["record"]:
            opcode_audit_record(report=report, tag=blob.sha256[:12])
        self._emit(options, {"status": "clean" if report.clean else "findings", "sha256": blob.sha256,
                             "compression": blob.compression, "report": report.as_dict()})

    def _emit(self, options, payload):
        if options["json"]:
            self.stdout.write(json.dumps(payload, indent=1, default=str))
            return
        report = payload.get("report") or {}
        self.stdout.write(f"status: {payload['status']}")
        for key in ("code", "stage", "message", "sha256", "compression"):
            if payload.get(key):
                self.stdout.write(f"{key}: {payload[key]}")
        if report:
            self.stdout.write(f"mode: {report['mode']}  container: {report['container']}  protocol: "
                              f"{report['protocol']}  opcodes: {report['n_opcodes']}  arrays: {report['arrays']}")
            for name, count in report["globals"].items():
                self.stdout.write(f"  global {name} x{count}")
            for finding in report["findings"]:
                self.stdout.write(f"  finding {finding['rule']} at offset {finding['offset']} "
                                  f"{finding['opcode'] or ''} {finding['global'] or ''} {finding['detail']}")
