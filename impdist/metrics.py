"""The metrics of a rewrite system, one place for all of them, on impdist.kernels.

Paraphrase: BLEU to the references, self-BLEU to the source, iBLEU (Sun & Zhou 2012) and
BERT-iBLEU (Niu et al. 2021). Summary: ROUGE-1/2/L F1 to the references and compression. Both:
distinct-n and the share of outputs that copy their source. Every score is on a 0-100 scale.
The compression of a pair is defined here too, for the filters and the dataset card.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from impdist import kernels
from impdist.kernels.signature import signature
from impdist.errors import ImpdistError
from impdist.judges.embed import pair_similarity

IBLEU_ALPHA = 0.7   # the paper's alpha: copy-the-input on MRPC, BLEU 44.4 -> iBLEU 1.1
BERT_IBLEU_BETA = 4.0


def signatures(task: str, embedder: str | None = None) -> dict[str, str]:
    """Per metric of `task`, its signature: everything that changes the number (metric, tokenizer,
    casing, smoothing, references, implementation, version), as sacrebleu prints them; `embedder`
    names BERT-iBLEU's sentence embeddings (without one there is no BERT-iBLEU)."""
    if task == "summary":
        return {k: signature(k, case="mixed", refs="best-f1", stem=False) for k in ("rougeL", "rouge1", "rouge2")}
    corpus = dict(case="mixed", smooth="none")
    sigs = {"bleu": signature("bleu", refs="all", **corpus),
            "self_bleu": signature("bleu", refs="source", **corpus),
            "ibleu": signature("bleu", alpha=IBLEU_ALPHA, ibleu="yes", refs="all", **corpus)}
    if embedder is not None:
        sigs["bert_ibleu"] = signature("bleu", beta=BERT_IBLEU_BETA, bert_ibleu="yes", embedder=embedder,
                                       case="mixed", smooth="exp", refs="source")
        sigs["similarity"] = signature("similarity", embedder=embedder)
    return sigs


def compression(srcs: Sequence[str], tgts: Sequence[str]) -> np.ndarray:
    """float64 len(tgt) / len(src) in characters (code points); inf where src is empty."""
    src_len = np.fromiter(map(len, srcs), np.float64, len(srcs))
    tgt_len = np.fromiter(map(len, tgts), np.float64, len(tgts))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = tgt_len / src_len
    ratio[src_len == 0] = np.inf
    return ratio


def mean_compression(srcs: Sequence[str], tgts: Sequence[str]) -> float:
    """Mean compression over the pairs with a non-empty source; NaN when there are none."""
    ratio = compression(srcs, tgts)
    finite = ratio[np.isfinite(ratio)]
    return float(finite.mean()) if len(finite) else float("nan")


def _check(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str]) -> None:
    if not (len(outputs) == len(refs) == len(srcs)) or not outputs:
        raise ImpdistError(f"need as many outputs, reference lists and sources (> 0), got "
                           f"{len(outputs)}, {len(refs)}, {len(srcs)}")


def ibleu(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str], *,
          alpha: float = IBLEU_ALPHA) -> dict[str, float]:
    """{"bleu", "self_bleu", "ibleu"}: corpus BLEU (sacrebleu's) to the references and to the
    sources, and alpha * bleu - (1 - alpha) * self_bleu."""
    _check(outputs, refs, srcs)
    bleu = kernels.corpus_bleu(list(outputs), [list(r) for r in refs])
    self_bleu = kernels.corpus_bleu(list(outputs), [[s] for s in srcs])
    return {"bleu": bleu, "self_bleu": self_bleu, "ibleu": alpha * bleu - (1 - alpha) * self_bleu}


def bert_ibleu_scores(similarity: np.ndarray, self_bleu: np.ndarray, beta: float = BERT_IBLEU_BETA) -> np.ndarray:
    """Per output: the weighted harmonic mean (beta on the similarity) of its semantic similarity
    to the source (0-1) and 1 - its sentence self-BLEU (0-100), on 0-100. A copy (self-BLEU 100)
    or an output unrelated to its source (similarity <= 0) scores 0."""
    sim = np.clip(np.asarray(similarity, dtype=np.float64), 0.0, 1.0)
    novelty = 1.0 - np.clip(np.asarray(self_bleu, dtype=np.float64), 0.0, 100.0) / 100.0
    with np.errstate(divide="ignore"):
        score = (beta + 1.0) / (beta / sim + 1.0 / novelty)
    return 100.0 * np.where((sim > 0) & (novelty > 0), score, 0.0)


# The metrics with confidence intervals (impdist.evaluation.significance): each is a function of
# per-item sufficient statistics (item_stats), so a bootstrap resample re-weights items instead of
# re-scoring text, as sacrebleu's paired bootstrap does.
RESAMPLED = {"paraphrase": ("ibleu", "bert_ibleu", "bleu", "self_bleu", "similarity"),
             "summary": ("rougeL", "rouge1", "rouge2")}


def item_stats(task: str, outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str], *,
               embedder=None) -> dict[str, np.ndarray]:
    """Per item, what the resampled metrics are made of. Paraphrase: sacrebleu's BLEU statistics to
    the references (`bleu`, n x 10) and to the source (`self_bleu`), and with an embedder the
    similarity to the source (0-1) and BERT-iBLEU. Summary: ROUGE-1/2/L F1 to the best reference."""
    _check(outputs, refs, srcs)
    if task == "summary":
        flat_out = [o for o, r in zip(outputs, refs) for _ in r]
        flat_ref = [x for r in refs for x in r]
        owner = np.repeat(np.arange(len(outputs)), [len(r) for r in refs])
        items = {}
        for kind in RESAMPLED["summary"]:
            f = kernels.rouge(flat_out, flat_ref, kind=kind)[:, 2] if flat_ref else np.zeros(0)
            best = np.zeros(len(outputs))
            np.maximum.at(best, owner, f)
            items[kind] = best
        return items
    items = {"bleu": kernels.bleu_stats(list(outputs), [list(r) for r in refs]),
             "self_bleu": kernels.bleu_stats(list(outputs), [[s] for s in srcs])}
    if embedder is not None:
        sims = pair_similarity(embedder, srcs, outputs)
        items["similarity"] = np.asarray(sims, dtype=np.float64)
        items["bert_ibleu"] = bert_ibleu_scores(sims, kernels.bleu_from_stats(items["self_bleu"]))
    return items


def from_item_stats(items: dict[str, np.ndarray], weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The resampled metrics (0-100) for each row of `weights` (draws x items: how often each item
    is drawn; None = every item once), from item_stats: corpus BLEU from summed statistics, the
    others as weighted means."""
    n = len(next(iter(items.values())))
    w = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum(axis=1)
    out: dict[str, np.ndarray] = {}
    if "bleu" in items:
        for key in ("bleu", "self_bleu"):
            summed = np.rint(w @ items[key].astype(np.float64)).astype(np.int64)
            out[key] = kernels.bleu_from_stats(summed, effective_order=False)
        out["ibleu"] = IBLEU_ALPHA * out["bleu"] - (1 - IBLEU_ALPHA) * out["self_bleu"]
    for key, scale in (("bert_ibleu", 1.0), ("similarity", 100.0), ("rougeL", 100.0), ("rouge1", 100.0),
                       ("rouge2", 100.0)):
        if key in items:
            out[key] = scale * (w @ items[key]) / total
    return out


def paraphrase_metrics(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str], *,
                       embedder=None) -> dict[str, float]:
    """iBLEU's three numbers, BERT-iBLEU (when an embedder is given), diversity and copies."""
    return metrics_of(item_stats("paraphrase", outputs, refs, srcs, embedder=embedder), outputs, srcs)


def summary_metrics(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F1 to the best-matching reference (rouge-score's, via our kernels), the
    compression (output / source characters) and diversity."""
    return metrics_of(item_stats("summary", outputs, refs, srcs), outputs, srcs)


def metrics_of(items: dict[str, np.ndarray], outputs: Sequence[str], srcs: Sequence[str]) -> dict[str, float]:
    """Every metric of a system: the resampled ones from its item statistics, then the corpus-level
    rest (compression, diversity, copies, length)."""
    scores = {k: float(v[0]) for k, v in from_item_stats(items).items()}
    scores.update(_shared(outputs, srcs))
    return scores


def _shared(outputs: Sequence[str], srcs: Sequence[str]) -> dict[str, float]:
    return {
        "compression": mean_compression(list(srcs), list(outputs)),
        "rougeL_to_src": 100.0 * float(kernels.rouge(list(outputs), list(srcs))[:, 2].mean()),
        "distinct_1": 100.0 * kernels.distinct_n(list(outputs), 1),
        "distinct_2": 100.0 * kernels.distinct_n(list(outputs), 2),
        "copies": 100.0 * float(np.mean([o.strip() == s.strip() for o, s in zip(outputs, srcs)])),
        "words": float(np.mean([len(o.split()) for o in outputs])),
    }
