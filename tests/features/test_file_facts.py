"""The file facts a process keeps of the rows it read (`features.file_facts`): Django-free, no database."""

from __future__ import annotations

from types import SimpleNamespace

from features.file_facts import CadFileFacts, FileFactsCache


def row(pk: int, sha: str, meta=None):
    return SimpleNamespace(pk=pk, sha256=sha * 64, format="stl", original_name=f"{sha}.stl", meta=meta)


def test_the_facts_of_a_row_are_its_unchanging_columns():
    cache = FileFactsCache()
    meta = {"project": "p1"}
    cache.remember(row(7, "a", meta))
    meta["project"] = "changed"  # the row's meta read later is not the cached copy
    assert cache.get("a" * 64) == CadFileFacts(id=7, sha256="a" * 64, format="stl", original_name="a.stl",
                                               meta={"project": "p1"})
    cache.remember(row(8, "b"))
    assert cache.get("b" * 64).meta == {}
    assert cache.get("c" * 64) is None


def test_a_row_read_again_replaces_its_facts():
    cache = FileFactsCache()
    cache.remember(row(7, "a"))
    cache.remember(row(9, "a"))  # deleted and stored again: another id
    assert cache.get("a" * 64).id == 9


def test_the_least_recently_used_content_goes_first():
    cache = FileFactsCache(capacity=2)
    cache.remember(row(1, "a"))
    cache.remember(row(2, "b"))
    assert cache.get("a" * 64).id == 1  # used: b is now the oldest
    cache.remember(row(3, "c"))
    assert cache.get("b" * 64) is None
    assert cache.get("a" * 64).id == 1 and cache.get("c" * 64).id == 3
    cache.clear()
    assert cache.get("a" * 64) is None
