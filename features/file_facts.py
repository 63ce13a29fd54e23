"""What this process last read of each content's file row, for a statement that writes only while it still holds:
the columns of a `CadFile` row that never change once the row is inserted (no service updates them, and the admin
shows the rows read-only), by sha256. Django-free.

A vector registered for a content takes its metadata from the content's row (its format, its first upload's name
and meta). With these facts at hand, an analysis of known content computes that metadata before any round trip, and
one statement reads the row and writes the vector and the analysis, only when the row is still the one the facts were
read from (the same id: a row deleted and stored again has another). Process memory is only a cache of the row:
facts that no longer hold make the statement write nothing, and the caller goes on from the row it read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

CAPACITY = 4096  # contents; each entry is a few hundred bytes (an import's meta is small)


@dataclass(frozen=True)
class CadFileFacts:
    id: int
    sha256: str
    format: str
    original_name: str
    meta: dict = field(hash=False)


class FileFactsCache:
    """A bounded map sha256 -> `CadFileFacts`, least recently used first out; thread-safe."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._facts: OrderedDict[str, CadFileFacts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> CadFileFacts | None:
        with self._lock:
            facts = self._facts.get(sha256)
            if facts is not None:
                self._facts.move_to_end(sha256)
            return facts

    def remember(self, row) -> None:
        """The facts of `row`, a stored `CadFile` (anything with its id, sha256, format, original_name and meta)."""
        facts = CadFileFacts(id=row.pk, sha256=row.sha256, format=row.format, original_name=row.original_name,
                             meta=dict(row.meta or {}))
        with self._lock:
            self._facts[facts.sha256] = facts
            self._facts.move_to_end(facts.sha256)
            while len(self._facts) > self.capacity:
                self._facts.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._facts.clear()


file_facts = FileFactsCache()
