"""The artefact cache's size limit: sizes and the IMPDIST_CACHE_LIMIT setting, least-recently-used
eviction after each build, and entries a running process uses never evicted under it.

A process keeps every entry it has used until it ends, so each use here is its own process (as
each `impdist` command is)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impdist.errors import InvalidValueError
from impdist.io import cache

REPO = Path(__file__).resolve().parents[2]
_USE = """
import sys, time
from impdist.io.cache import artefact
size = int(sys.argv[2])
print(artefact("kind", sys.argv[1], "k", lambda out: (out / "blob").write_bytes(b"x" * size)), flush=True)
if sys.argv[3] == "hold":
    sys.stdin.readline()  # used until the test lets go
"""


def _use(name: str, size: int = 1000, *, limit: str = "none") -> None:
    """A process that uses (building if missing) entry kind/name-k of `size` bytes, then ends."""
    subprocess.run([sys.executable, "-c", _USE, name, str(size), "end"], cwd=REPO, check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO), cache.LIMIT_ENV: limit})
    time.sleep(0.02)  # distinct last-use times


def _names() -> list[str]:
    return sorted(e.path.name for e in cache.entries())


@pytest.mark.parametrize("text,size", [("20GB", 20 * 10**9), ("500 MB", 500 * 10**6), ("1.5GiB", 3 * 2**29),
                                       ("0", 0), ("123", 123), ("2kb", 2000), (".5k", 500)])
def test_sizes(text, size):
    assert cache.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GB", "20 GBs", "-1GB", "1e3", "twenty"])
def test_what_is_not_a_size(text):
    with pytest.raises(ValueError, match="is not a size; write e.g. 20GB"):
        cache.parse_size(text)


def test_the_limit_setting(monkeypatch):
    monkeypatch.delenv(cache.LIMIT_ENV, raising=False)
    assert cache.cache_limit() == cache.parse_size(cache.DEFAULT_LIMIT) == 20 * 10**9
    monkeypatch.setenv(cache.LIMIT_ENV, "none")
    assert cache.cache_limit() is None
    monkeypatch.setenv(cache.LIMIT_ENV, "300MB")
    assert cache.cache_limit() == 300 * 10**6
    assert (cache.format_size(0), cache.format_size(999), cache.format_size(912_400_000)) == ("0 B", "999 B", "912.4 MB")


def test_a_bad_limit_is_refused_before_anything_is_built(cache_root, monkeypatch):
    monkeypatch.setenv(cache.LIMIT_ENV, "lots")
    built = []
    with pytest.raises(InvalidValueError, match=r"IMPDIST_CACHE_LIMIT='lots': 'lots' is not a size.*'none' for no limit"):
        cache.artefact("kind", "m", "k", built.append)
    assert built == [] and not cache_root.exists()


def test_least_recently_used_entries_go_first_after_a_build(cache_root):
    for name in ("a", "b", "c"):
        _use(name)
    _use("a")  # a is now the most recently used
    assert _names() == ["a-k", "b-k", "c-k"] and [e.path.name for e in cache.entries()] == ["b-k", "c-k", "a-k"]
    _use("d", limit="2500")  # 4000 bytes with d: b, then c go
    assert _names() == ["a-k", "d-k"]
    assert sum(e.bytes for e in cache.entries()) == 2000
    assert not [p for p in (cache_root / "kind").iterdir() if p.name.startswith((".b-k", ".c-k"))]  # no locks left
    _use("b", limit="2500")  # an evicted entry is rebuilt on its next use; a, the oldest now, goes
    assert _names() == ["b-k", "d-k"]


def test_an_entry_in_use_is_never_evicted(cache_root):
    _use("old")
    holder = subprocess.Popen([sys.executable, "-c", _USE, "held", "1000", "hold"], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO), cache.LIMIT_ENV: "none"})
    try:
        assert holder.stdout.readline().strip().endswith("held-k")  # built and in use
        _use("new")
        listed = {e.path.name: e.in_use for e in cache.entries()}
        assert listed == {"old-k": False, "held-k": True, "new-k": False}
        pruned = cache.prune(0)
        assert [e.path.name for e in pruned.removed] == ["old-k", "new-k"]
        assert [e.path.name for e in pruned.left] == ["held-k"]
        assert "over the 0 B asked for: 1 in use by running processes" in str(pruned)
        mine = cache.artefact("kind", "mine", "k", lambda out: (out / "blob").write_bytes(b"y"))
        assert {e.path for e in cache.prune(0).left} == {mine, mine.with_name("held-k")}  # this process uses it
    finally:
        holder.communicate("\n", timeout=60)
    assert [e.path.name for e in cache.prune(0).removed] == ["held-k"]  # its process has ended


def test_the_list(cache_root, monkeypatch):
    _use("a", 1500)
    _use("b", 2500)
    monkeypatch.setenv(cache.LIMIT_ENV, "1MB")
    text = cache.format_entries(cache.entries(), cache.cache_limit())
    lines = text.splitlines()
    assert lines[0].split() == ["SIZE", "LAST", "USED", "IN", "USE", "ENTRY"]
    assert lines[1].startswith("   1.5 kB  ") and lines[1].endswith("kind/a-k")
    assert lines[2].startswith("   2.5 kB  ") and lines[2].endswith("kind/b-k")
    assert lines[3] == f"4.0 kB in 2 entries under {cache_root} (limit 1.0 MB; set IMPDIST_CACHE_LIMIT to change it)"
