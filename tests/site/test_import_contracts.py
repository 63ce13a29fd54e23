"""The shape of the code, enforced: import-linter's contracts in `.importlinter` (layers between the apps, no import
circle inside a package, Django-free cores, no developer tooling in the runtime) hold. `make test` runs this, so the
shape cannot silently rot; `.venv/bin/lint-imports` prints the same report by hand."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint = pathlib.Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = (ROOT / ".importlinter").read_text().count("[importlinter:contract:")
    assert f"Contracts: {contracts} kept, 0 broken." in result.stdout
