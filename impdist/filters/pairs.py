"""Candidate pairs within one context group: y_orig with each candidate, and the candidates
among themselves (as the paper's official code pairs them), capped per group.

A group's sentences are numbered: 0 is y_orig, 1.. are its distinct candidates in the order
the teacher produced them. A pair's id is `<context_id>:<src>-<tgt>` over those numbers, so
it names the same two sentences in every stage and every re-run.
"""
from __future__ import annotations

import hashlib
import random
from typing import Iterator

from impdist.tasks import check_task


def group_sentences(group: dict) -> list[str]:
    """y_orig then the group's distinct, non-blank candidates, in first-seen order."""
    sents = [group["y_orig"]]
    for c in group.get("candidates", ()):
        if c.strip() and c not in sents:
            sents.append(c)
    return sents


def _orient(task: str, pairing: str, sents: list[str], i: int, j: int) -> tuple[int, int]:
    """Paraphrase pairs keep index order (y_orig first); a summary within a group runs from the
    longer sentence to the shorter one (ties keep index order). With pairing="source" the
    candidates are rewrites of y_orig, so y_orig stays the source (a longer "summary" then fails
    the compression filter, as it should)."""
    if task == "summary" and pairing == "group" and len(sents[j]) > len(sents[i]):
        return j, i
    return i, j


def _sample(edges: list[tuple[int, int]], cap: int | None, seed: int, context_id: str) -> list[tuple[int, int]]:
    """At most `cap` edges, drawn by a generator seeded from (seed, context_id): the same
    group keeps the same pairs whatever shard or worker it lands in. Pairs with y_orig come
    first, as they are the ones the paper always forms."""
    if cap is None or len(edges) <= cap:
        return edges
    digest = hashlib.sha256(f"{seed}:{context_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "little"))
    with_orig = [e for e in edges if e[0] == 0]
    others = [e for e in edges if e[0] != 0]
    if len(with_orig) >= cap:
        return sorted(rng.sample(with_orig, cap))
    return sorted(with_orig + rng.sample(others, cap - len(with_orig)))


PAIRINGS = ("group", "source")


def make_pairs(group: dict, task: str, *, cap: int | None = 32, seed: int = 0,
               pairing: str = "group") -> Iterator[dict]:
    """The pair records of one candidates row (`context_id`, `y_orig`, `candidates`), with an
    empty `scores` map for the filters to fill. pairing="group" pairs every two sentences of the
    group; "source" pairs y_orig with each candidate only (self-distillation: the candidates
    are the student's rewrites of y_orig)."""
    check_task(task)
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}")
    if cap is not None and cap < 1:
        raise ValueError(f"the per-group pair cap must be positive (or None for all pairs), got {cap}")
    sents = group_sentences(group)
    cid = str(group["context_id"])
    edges = [(i, j) for i in range(len(sents) if pairing == "group" else 1) for j in range(i + 1, len(sents))]
    for i, j in _sample(edges, cap, seed, cid):
        s, t = _orient(task, pairing, sents, i, j)
        yield {"id": f"{cid}:{s}-{t}", "src": sents[s], "tgt": sents[t], "task": task, "context_id": cid,
               "round": int(group.get("round", 0)), "src_sid": s, "tgt_sid": t, "scores": {}}
