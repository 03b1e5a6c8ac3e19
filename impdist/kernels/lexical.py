"""ROUGE and BLEU with the reference libraries' numbers (rouge-score, sacrebleu).

Kernels return integer sufficient statistics per pair; one function turns statistics into
scores, so corpus scores are sums of rows and the CPU and CUDA paths cannot drift apart.
"""
from __future__ import annotations

import re
import warnings
from typing import NamedTuple, Sequence, Union

import numpy as np

from impdist.errors import ImpdistWarning, KernelArgumentError
from impdist.kernels import _core
from impdist.kernels._device import check_device, cuda_module, threads_arg
from impdist.kernels._errors import core_errors

References = Sequence[Union[str, Sequence[str]]]

_KIND = re.compile(r"^rouge([1-9]|L)$")


class Score(NamedTuple):
    """rouge-score's Score, for one pair."""

    precision: float
    recall: float
    fmeasure: float


def _rouge_order(kind: str) -> int:
    m = _KIND.match(kind) if isinstance(kind, str) else None
    if not m:
        raise KernelArgumentError(f"kind must be 'rougeL' or 'rouge1'..'rouge9', got {kind!r}")
    return 0 if m.group(1) == "L" else int(m.group(1))


def _rouge_stats(
    cands: Sequence[str], refs: Sequence[str], kinds: Sequence[str], stem: bool, threads: int | None, device: str
) -> np.ndarray:
    """int64 (n, len(kinds), 3) stats of every kind, from one tokenization of each pair."""
    orders = [_rouge_order(k) for k in kinds]
    nt = threads_arg(threads)
    with core_errors():
        if check_device(device) == "cpu":
            stats, dropped = _core.rouge_stats(cands, refs, orders, bool(stem), nt)
        else:
            cuda = cuda_module()
            batch, dropped = _core.tokenize_rouge_batch(cands, refs, bool(stem), nt)
            stats = np.stack([cuda.rouge_stats(batch, o) for o in orders], axis=1).reshape(-1, len(orders), 3)
    if dropped:
        warnings.warn(
            f"{dropped} text(s) contain non-ASCII letters; rouge-score's tokenizer drops them, and so "
            "do we to give the same numbers. Transliterate first if they matter.",
            ImpdistWarning,
            stacklevel=4,
        )
    return stats


def rouge_stats(
    cands: Sequence[str],
    refs: Sequence[str],
    kind: str = "rougeL",
    stem: bool = False,
    threads: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """int64 (n, 3): overlap (LCS length or clipped n-gram matches), candidate count, reference count."""
    return _rouge_stats(cands, refs, [kind], stem, threads, device)[:, 0]


def rouge_from_stats(stats: np.ndarray, kind: str = "rougeL") -> np.ndarray:
    """float64 (n, 3) precision, recall, F from rouge_stats rows (rouge-score's formulas)."""
    order = _rouge_order(kind)
    with core_errors():
        return _core.rouge_scores(np.asarray(stats), order)


def rouge(
    cands: Sequence[str],
    refs: Sequence[str],
    kind: str = "rougeL",
    stem: bool = False,
    threads: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """float64 (n, 3) precision, recall, F of each candidate against its reference.

    Row i equals ``RougeScorer([kind], use_stemmer=stem).score(refs[i], cands[i])[kind]``
    (rouge-score takes the reference first).
    """
    return rouge_from_stats(rouge_stats(cands, refs, kind, stem, threads, device), kind)


def rouge_multi(
    cands: Sequence[str],
    refs: Sequence[str],
    kinds: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
    stem: bool = False,
    threads: int | None = None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """{kind: float64 (n, 3) precision, recall, F} for several ROUGE types in one pass over the tokens.

    Equals ``{k: rouge(cands, refs, k, stem) for k in kinds}`` and so rouge-score's
    ``RougeScorer(kinds, use_stemmer=stem).score(refs[i], cands[i])``, at the cost of one call.
    """
    if isinstance(kinds, str):
        raise KernelArgumentError(f"kinds must be a sequence of ROUGE types, got the string {kinds!r}")
    kinds = list(dict.fromkeys(kinds))
    if not kinds:
        raise KernelArgumentError("kinds must name at least one ROUGE type")
    stats = _rouge_stats(cands, refs, kinds, stem, threads, device)
    return {k: rouge_from_stats(stats[:, j], k) for j, k in enumerate(kinds)}


def bleu_stats(
    hyps: Sequence[str], refs: References, threads: int | None = None, device: str = "cpu"
) -> np.ndarray:
    """int64 (n, 10) sacrebleu statistics: hyp_len, ref_len, correct 1-4, total 1-4.

    ``refs[i]`` is one reference (str) or several (a sequence of str) for ``hyps[i]``.
    """
    nt = threads_arg(threads)
    with core_errors():
        if check_device(device) == "cpu":
            return _core.bleu_stats(hyps, refs, nt)
        cuda = cuda_module()
        return cuda.bleu_stats(_core.tokenize_bleu_batch(hyps, refs, nt))


def bleu_from_stats(stats: np.ndarray, effective_order: bool = True) -> np.ndarray:
    """float64 (n,) BLEU (0-100) from bleu_stats rows: sacrebleu's compute_bleu, 'exp' smoothing."""
    with core_errors():
        return _core.bleu_scores(np.asarray(stats), bool(effective_order))


def sentence_bleu(
    hyps: Sequence[str], refs: References, threads: int | None = None, device: str = "cpu"
) -> np.ndarray:
    """float64 (n,): ``sacrebleu.sentence_bleu(hyps[i], refs_i).score`` with sacrebleu's defaults
    (13a tokenizer, 'exp' smoothing, effective order)."""
    return bleu_from_stats(bleu_stats(hyps, refs, threads, device), effective_order=True)


def corpus_bleu(
    hyps: Sequence[str], refs: References, threads: int | None = None, device: str = "cpu"
) -> float:
    """``sacrebleu.corpus_bleu(hyps, streams).score``, references given per hypothesis.

    sacrebleu takes reference *streams* (``streams[k][i]`` = k-th reference of hypothesis i);
    here ``refs[i]`` lists hypothesis i's references, so hypotheses may have different counts.
    """
    stats = bleu_stats(hyps, refs, threads, device)
    if len(stats) == 0:
        raise KernelArgumentError("corpus_bleu needs at least one hypothesis")
    return float(bleu_from_stats(stats.sum(axis=0, keepdims=True), effective_order=False)[0])
