"""impdist's compiled lexical kernels: the only Python face of ``csrc/``.

Every function takes a batch (sequences of str), releases the GIL, spreads the batch over
cores with OpenMP (``threads=``), and returns numpy arrays. Numbers match the reference
libraries named in each docstring; ``device="cuda"`` runs the GPU build where available. A bad
argument raises impdist.errors.KernelArgumentError or KernelTypeError (a ValueError / TypeError)
on either device; ``device="cuda"`` without a usable GPU raises DeviceUnavailableError.
"""
from impdist.kernels._device import cuda_available
from impdist.kernels.diversity import distinct_n, self_bleu
from impdist.kernels.lexical import (
    Score,
    bleu_from_stats,
    bleu_stats,
    corpus_bleu,
    rouge,
    rouge_from_stats,
    rouge_multi,
    rouge_stats,
    sentence_bleu,
)
from impdist.kernels.lsh import near_duplicates
from impdist.kernels.minhash import minhash, permutations, shingles
from impdist.kernels.overlap import ngram_jaccard
from impdist.kernels.signature import signature

__all__ = [
    "Score",
    "bleu_from_stats",
    "bleu_stats",
    "corpus_bleu",
    "cuda_available",
    "distinct_n",
    "minhash",
    "near_duplicates",
    "ngram_jaccard",
    "permutations",
    "rouge",
    "rouge_from_stats",
    "rouge_multi",
    "rouge_stats",
    "self_bleu",
    "sentence_bleu",
    "shingles",
    "signature",
]
