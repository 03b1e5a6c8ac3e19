"""Shared helpers of the bench/ scripts: data, timing, and the table + JSON-lines report."""
from __future__ import annotations

import json
import time
from typing import Callable

import numpy as np

from impdist.data import SHIPPED, data_file

DATA_DIR = SHIPPED  # the data impdist ships (read_jsonl also honours $IMPDIST_DATA)


def read_jsonl(name: str) -> list[dict]:
    """The records of a data file impdist ships, by file name (e.g. mrpc_dev.jsonl)."""
    with data_file(name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def names(spec: str) -> list[str]:
    """The names of a comma-separated option, blanks dropped; 'none' names nothing."""
    return [n for n in (part.strip() for part in spec.split(",")) if n and n != "none"]


def best_time(fn: Callable[[], object], repeat: int = 3, min_time: float = 0.2) -> float:
    """Best wall time of one call over `repeat` rounds (each round at least min_time long)."""
    best = float("inf")
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / calls)
    return best


def synthetic_corpus(n: int, seed: int = 0, vocab: int = 50_000) -> list[str]:
    """n sentences of 8-30 words drawn from a Zipf(1.1) vocabulary of pseudo-words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    word_len = rng.integers(2, 10, vocab)
    words = ["".join(rng.choice(letters, k)) for k in word_len]
    ranks = np.arange(1, vocab + 1, dtype=float)
    probs = ranks ** -1.1
    probs /= probs.sum()
    lengths = rng.integers(8, 31, n)
    ids = rng.choice(vocab, size=int(lengths.sum()), p=probs)
    out, pos = [], 0
    for length in lengths:
        out.append(" ".join(words[i] for i in ids[pos : pos + length]))
        pos += length
    return out


class Report:
    """Collects rows; prints a table and one JSON line per benchmark."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, bench: str, n: int, ours_per_s: float, peer_per_s: float | None, peer: str, **extra) -> None:
        row = {"bench": bench, "n": n, "ours_per_s": round(ours_per_s, 1),
               "peer_per_s": None if peer_per_s is None else round(peer_per_s, 1),
               "ratio": None if not peer_per_s else round(ours_per_s / peer_per_s, 1), "peer": peer, **extra}
        self.rows.append(row)
        ratio = "" if row["ratio"] is None else f"{row['ratio']:>9.1f}x"
        peer_rate = "" if peer_per_s is None else f"{peer_per_s:>14,.0f}"
        print(f"{bench:<28}{n:>10,}{ours_per_s:>16,.0f}{peer_rate:>16}{ratio:>11}  {peer}", flush=True)

    @staticmethod
    def header(unit: str = "items/s") -> None:
        print(f"{'bench':<28}{'n':>10}{'ours ' + unit:>16}{'peer ' + unit:>16}{'ratio':>11}  peer")

    def emit_json(self) -> None:
        for row in self.rows:
            print(json.dumps(row))
