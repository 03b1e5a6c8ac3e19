"""device="cuda" against device="cpu", exactly, where batches stress what only the GPU build does.

Both devices run the same per-item code (csrc/include/impdist/), and every parity test of
tests/kernels runs the CUDA path beside the CPU path through the harness (tests/kernels/harness.py)
wherever a GPU is usable. The tests here add the batches that stress the launch, layout and
transfers of csrc/cuda/ (long texts, scratch over one chunk, many blocks); the reference libraries
would take minutes on them, so only the paths are compared.

The GPU tests carry the `cuda` mark and skip where no GPU is usable (`pytest -m cuda` selects
them). The tests below them run everywhere: the error a user gets without a GPU, and the
checks _cuda makes on its inputs before it touches a device.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from impdist import kernels
from impdist.errors import DeviceUnavailableError
from impdist.kernels import _core
from tests.kernels.harness import CUDA, MINHASH, ROUGE, SENTENCE_BLEU, check

try:
    from impdist.kernels import _cuda
except ImportError:
    _cuda = None

SCHEMES = ["affine32", "legacy", "affine64"]


def long_words(n: int, seed: int, vocab: int | None = None) -> list[str]:
    rng = random.Random(seed)
    return [f"w{rng.randrange(vocab)}" if vocab else f"w{i}" for i in range(n)]


class TestCudaEqualsCpu:
    pytestmark = [
        pytest.mark.cuda,
        pytest.mark.skipif(not CUDA, reason="needs impdist built with CUDA and a visible NVIDIA GPU"),
    ]

    @pytest.mark.parametrize("kind", ["rougeL", "rouge1", "rouge2"])
    def test_rouge_empty_and_long_texts(self, kind):
        # 10,000 distinct words: 157 words of LCS bit vector and a 10,000-id match-mask table.
        long_a = long_words(10_000, 1)
        long_b = long_a[:]
        random.Random(2).shuffle(long_b)
        big = " ".join(long_a)
        cands = ["", "", "a", big, big, " ".join(long_b), " ".join(long_words(10_000, 3, vocab=50)), big[:70_001]]
        refs = ["", "a", "", big, " ".join(long_b), big, " ".join(long_words(9_000, 4, vocab=50)), "x " + big]
        check(ROUGE, cands, refs, kind=kind, reference=False, tag="edge")

    def test_rouge_scratch_over_one_chunk(self):
        # ~10 MB of LCS scratch per item (9,000+ distinct ids x 141+ words), 1.2 GB in all: more
        # than one scratch chunk (1 GiB), so the chunks share one allocation in turn.
        a = long_words(10_000, 5)
        items = []
        for seed in range(120):
            b = a[:]
            random.Random(seed).shuffle(b)
            items.append((" ".join(a), " ".join(b[: 9_000 + seed])))
        cands, refs = map(list, zip(*items))
        check(ROUGE, cands, refs, reference=False, tag="chunks")

    def test_bleu_empty_long_and_many_references(self, mrpc):
        big = " ".join(long_words(10_000, 6, vocab=300))
        hyps = ["", "", "a b c", big, mrpc[0]["src"], mrpc[1]["src"], "x"]
        refs = [
            "",
            ["", "a"],
            ["a b c d", "", "b c"],
            [big, " ".join(long_words(10_000, 7, vocab=300)), "w1 w2 w3"],
            [r["src"] for r in mrpc[:300]],  # 300 references
            [mrpc[1]["refs"][0]] * 200,
            ["x"] * 1_000,
        ]
        check(SENTENCE_BLEU, hyps, refs, reference=False, tag="edge")

    @pytest.mark.parametrize("scheme", SCHEMES)
    @pytest.mark.parametrize("shingle", ["word", 1, 3, 60, 130])
    @pytest.mark.parametrize("num_perm", [1, 256])
    def test_minhash_edge_texts(self, scheme, shingle, num_perm):
        # Texts without shingles between texts with some (repeated shingle offsets), shingles of
        # 55/56/64/119/120 bytes (SHA-1's padding cases), multi-byte code points, a long text.
        rng = random.Random(8)
        texts = ["", "   ", "a", "", "\u00e9\u6771\U0001F600 x", "\n\t"]
        texts += ["".join(rng.choice("ab c") for _ in range(n)) for n in (55, 56, 63, 64, 119, 120, 200)]
        texts += [" ".join(long_words(10_000, 9, vocab=2_000)), ""]
        check(MINHASH, texts, num_perm=num_perm, shingle=shingle, scheme=scheme, reference=False, tag="edge")

    def test_batch_over_many_blocks(self, mrpc):
        # 50,000 items: hundreds of blocks per launch, items of every length side by side.
        rng = random.Random(10)
        rows = [mrpc[rng.randrange(len(mrpc))] for _ in range(50_000)]
        cands = [r["src"] for r in rows]
        refs = [r["refs"][0] for r in rows]
        check(ROUGE, cands, refs, stem=True, reference=False, tag="large")
        check(SENTENCE_BLEU, cands, refs, reference=False, tag="large")
        check(MINHASH, cands, reference=False, tag="large")

    def test_device_count(self):
        assert _cuda.device_count() >= 1


# Without a GPU: what a user sees.

@pytest.mark.skipif(CUDA, reason="a GPU is usable here, so device='cuda' does not fail")
@pytest.mark.parametrize("call", [
    lambda: kernels.rouge_stats(["a b"], ["a"], device="cuda"),
    lambda: kernels.rouge(["a b"], ["a"], kind="rouge2", device="cuda"),
    lambda: kernels.bleu_stats(["a b"], [["a", "b"]], device="cuda"),
    lambda: kernels.sentence_bleu(["a b"], ["a"], device="cuda"),
    lambda: kernels.minhash(["a b"], device="cuda"),
], ids=["rouge_stats", "rouge", "bleu_stats", "sentence_bleu", "minhash"])
def test_cuda_device_without_gpu_raises(call):
    with pytest.raises(DeviceUnavailableError,
                       match=r"device='cuda' (needs impdist built with CUDA|but no CUDA device)"):
        call()


# The _cuda module's own checks: they run before any device call, so they hold everywhere the
# CUDA build exists. A malformed batch must be a Python error, never a bad access on the GPU.

needs_build = pytest.mark.skipif(_cuda is None, reason="impdist was built without CUDA")


def rouge_batch():
    batch, _ = _core.tokenize_rouge_batch(["the cat sat", "", "a b a"], ["a cat", "x", "b"], False, 1)
    return batch


@needs_build
def test_device_count_is_an_int_even_without_a_driver():
    count = _cuda.device_count()
    assert isinstance(count, int) and count >= 0


@needs_build
def test_empty_batches_need_no_device():
    rouge, _ = _core.tokenize_rouge_batch([], [], False, 1)
    assert _cuda.rouge_stats(rouge, 0).shape == (0, 3)
    assert _cuda.bleu_stats(_core.tokenize_bleu_batch([], [], 1)).shape == (0, _core.BLEU_STATS_WIDTH)
    a = b = np.arange(1, 9, dtype=np.uint64)
    assert _cuda.minhash(_core.shingle_batch([], 0), a, b, 1).dtype == np.uint32
    assert _cuda.minhash(_core.shingle_batch([], 0), a, b, 2).shape == (0, 8)


@needs_build
@pytest.mark.skipif(CUDA, reason="a GPU is usable here")
def test_cuda_errors_carry_the_cuda_message():
    with pytest.raises(RuntimeError, match="CUDA error: "):
        _cuda.rouge_stats(rouge_batch(), 0)


@needs_build
@pytest.mark.parametrize("change, error, match", [
    (lambda b: b.pop("ids"), ValueError, r"batch has no key 'ids': pass the dict .*tokenize_rouge_batch"),
    (lambda b: b.update(ids=b["ids"].astype(np.int64)), TypeError, r"batch\['ids'\] must have dtype uint32, got int64"),
    (lambda b: b.update(ids=list(b["ids"])), TypeError, r"batch\['ids'\] must be a numpy array"),
    (lambda b: b.update(seg_off=b["seg_off"].reshape(1, -1)), ValueError, r"must be 1-D"),
    (lambda b: b.update(d0=b["d0"][:2]), ValueError, r"batch\['item_seg'\] must have 3 entries"),
    (lambda b: b.update(swapped=b["swapped"][:1]), ValueError, r"batch\['swapped'\] must have 3 entries"),
    (lambda b: b["seg_off"].__setitem__(-1, 99), ValueError, r"batch\['seg_off'\] must end at len\(batch\['ids'\]\)"),
    (lambda b: b["seg_off"].__setitem__(1, 9), ValueError, r"must be non-decreasing"),
    (lambda b: b["item_seg"].__setitem__(1, 1), ValueError, r"batch item 0 has 1 segments; ROUGE items have 2"),
    (lambda b: b["d0"].__setitem__(0, 7), ValueError, r"batch item 0: d0 = 7 exceeds"),
    (lambda b: b["ids"].__setitem__(0, 5), ValueError, r"first-segment id 5 .* is not below d0"),
])
def test_malformed_rouge_batches_are_refused(change, error, match):
    batch = {k: v.copy() for k, v in rouge_batch().items()}
    change(batch)
    with pytest.raises(error, match=match):
        _cuda.rouge_stats(batch, 0)


@needs_build
def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="order must be"):
        _cuda.rouge_stats(rouge_batch(), 17)
    bleu = _core.tokenize_bleu_batch(["a b"], ["a"], 1)
    bleu["item_seg"] = np.array([0, 0], dtype=np.int64)
    bleu["seg_off"] = np.array([0], dtype=np.int64)
    bleu["ids"] = np.zeros(0, dtype=np.uint32)
    bleu["d0"] = np.zeros(1, dtype=np.uint32)
    with pytest.raises(ValueError, match="batch item 0 has no segments"):
        _cuda.bleu_stats(bleu)
    with pytest.raises(TypeError):
        _cuda.bleu_stats([1, 2])
    shingled = _core.shingle_batch(["ab cd", "e"], 0)
    a = b = np.arange(1, 5, dtype=np.uint64)
    with pytest.raises(ValueError, match="scheme must be"):
        _cuda.minhash(shingled, a, b, 3)
    with pytest.raises(ValueError, match="a and b must be 1-D of equal length"):
        _cuda.minhash(shingled, a, b[:3], 1)
    bad = dict(shingled, len=shingled["len"] + 1)
    with pytest.raises(ValueError, match=r"shingle 1 \(begin 3, len 3\) lies outside text 0 of 5 bytes"):
        _cuda.minhash(bad, a, b, 1)
    bad = dict(shingled, shingle_off=shingled["shingle_off"][:2])
    with pytest.raises(ValueError, match=r"shingled\['shingle_off'\] must have 3 entries"):
        _cuda.minhash(bad, a, b, 1)
    bad = dict(shingled, text_off=shingled["text_off"] + 1)
    with pytest.raises(ValueError, match=r"shingled\['text_off'\]\[0\] must be 0"):
        _cuda.minhash(bad, a, b, 1)
    bad = dict(shingled)
    del bad["bytes"]
    with pytest.raises(ValueError, match="shingled has no key 'bytes'"):
        _cuda.minhash(bad, a, b, 1)
