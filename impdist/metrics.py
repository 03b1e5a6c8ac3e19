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
from impdist.errors import ImpdistError
from impdist.judges.embed import pair_similarity

IBLEU_ALPHA = 0.7   # the paper's alpha: copy-the-input on MRPC, BLEU 44.4 -> iBLEU 1.1
BERT_IBLEU_BETA = 4.0


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


def paraphrase_metrics(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str], *,
                       embedder=None) -> dict[str, float]:
    """iBLEU's three numbers, BERT-iBLEU (when an embedder is given), diversity and copies."""
    scores = ibleu(outputs, refs, srcs)
    if embedder is not None:
        sent_self = kernels.sentence_bleu(list(outputs), [[s] for s in srcs])
        sims = pair_similarity(embedder, srcs, outputs)
        scores["bert_ibleu"] = float(bert_ibleu_scores(sims, sent_self).mean())
        scores["similarity"] = 100.0 * float(sims.mean())
    scores.update(_shared(outputs, srcs))
    return scores


def summary_metrics(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F1 to the best-matching reference (rouge-score's, via our kernels), the
    compression (output / source characters) and diversity."""
    _check(outputs, refs, srcs)
    scores: dict[str, float] = {}
    flat_out = [o for o, r in zip(outputs, refs) for _ in r]
    flat_ref = [x for r in refs for x in r]
    owner = np.repeat(np.arange(len(outputs)), [len(r) for r in refs])
    for kind in ("rouge1", "rouge2", "rougeL"):
        f = kernels.rouge(flat_out, flat_ref, kind=kind)[:, 2] if flat_ref else np.zeros(0)
        best = np.zeros(len(outputs))
        np.maximum.at(best, owner, f)
        scores[kind] = 100.0 * float(best.mean())
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
