"""Scores of a student's outputs: iBLEU (Sun & Zhou 2012: rewarded for matching the references,
penalised for copying the source), ROUGE-L to the source and compression, via impdist.kernels."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from impdist import kernels

IBLEU_ALPHA = 0.7


def ibleu(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str], *,
          alpha: float = IBLEU_ALPHA) -> dict[str, float]:
    """{"bleu", "self_bleu", "ibleu"}: corpus BLEU to the references and to the sources (0-100),
    and alpha * bleu - (1 - alpha) * self_bleu."""
    if not (len(outputs) == len(refs) == len(srcs)) or not outputs:
        raise ValueError(f"need as many outputs, reference lists and sources (> 0), got "
                         f"{len(outputs)}, {len(refs)}, {len(srcs)}")
    bleu = kernels.corpus_bleu(list(outputs), [list(r) for r in refs])
    self_bleu = kernels.corpus_bleu(list(outputs), [[s] for s in srcs])
    return {"bleu": bleu, "self_bleu": self_bleu, "ibleu": alpha * bleu - (1 - alpha) * self_bleu}


def output_scores(outputs: Sequence[str], refs: Sequence[Sequence[str]], srcs: Sequence[str]) -> dict[str, float]:
    """iBLEU's three numbers plus mean ROUGE-L F1 to the source, mean compression (characters)
    and the share of outputs that copy their source."""
    from impdist.filters.lexical import compression

    scores = ibleu(outputs, refs, srcs)
    ratio = compression(srcs, outputs)
    scores["rougeL_to_src"] = float(kernels.rouge(list(outputs), list(srcs))[:, 2].mean())
    scores["compression"] = float(np.mean(ratio[np.isfinite(ratio)])) if np.isfinite(ratio).any() else float("nan")
    scores["copies"] = float(np.mean([o.strip() == s.strip() for o, s in zip(outputs, srcs)]))
    return {k: round(v, 4) for k, v in scores.items()}
