"""How the check commands end: their notes on stdout, each problem on stderr, then a CommandError or success."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.management.base import BaseCommand, CommandError


def write_outcome(command: BaseCommand, *, notes: Iterable[str], problems: Sequence[str], problem_label: str,
                  failed: str, passed: str) -> None:
    """Writes ``notes``, then either every problem (``<problem_label>: ...``) and raises ``CommandError`` (a non-zero
    exit) saying ``<failed> with N problem(s)``, or the ``passed`` line in the success style."""
    for note in notes:
        command.stdout.write(note)
    if problems:
        for problem in problems:
            command.stderr.write(f"{problem_label}: {problem}")
        raise CommandError(f"{failed} with {len(problems)} problem(s)")
    command.stdout.write(command.style.SUCCESS(passed))
