"""device="cuda" against device="cpu", exactly.

Both devices run the same per-item code (csrc/include/impdist/), which the other kernel tests
check against rouge-score, sacrebleu and datasketch; so here only equality with the CPU is
asked, and any difference is a launch, layout or transfer bug of csrc/cuda/.

The GPU tests carry the `cuda` mark and skip where no GPU is usable (`pytest -m cuda` selects
them). The tests below them run everywhere: the error a user gets without a GPU, and the
checks _cuda makes on its inputs before it touches a device.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from impdist import kernels
from impdist.kernels import _core
from tests.conftest import record
from tests.kernels.strategies import any_text, pairs, related

CUDA = kernels.cuda_available()
try:
    from impdist.kernels import _cuda
except ImportError:
    _cuda = None

ROUGE_KINDS = ["rougeL", "rouge1", "rouge2", "rouge4"]
SCHEMES = ["affine32", "legacy", "affine64"]
NUM_PERMS = [1, 64, 128, 256]
shingle_arg = st.one_of(st.just("word"), st.integers(1, 9), st.integers(50, 130))


def assert_same(cuda: np.ndarray, cpu: np.ndarray) -> None:
    assert cuda.dtype == cpu.dtype
    assert cuda.shape == cpu.shape
    assert np.array_equal(cuda, cpu)


def same_rouge(cands, refs, kind, stem, label="cuda:rouge"):
    cpu = kernels.rouge_stats(cands, refs, kind=kind, stem=stem, device="cpu")
    assert_same(kernels.rouge_stats(cands, refs, kind=kind, stem=stem, device="cuda"), cpu)
    record(label, len(cands))


def same_bleu(hyps, refs, label="cuda:bleu"):
    cpu = kernels.bleu_stats(hyps, refs, device="cpu")
    assert_same(kernels.bleu_stats(hyps, refs, device="cuda"), cpu)
    record(label, len(hyps))


def same_minhash(texts, num_perm, seed, shingle, scheme, label="cuda:minhash"):
    args = dict(num_perm=num_perm, seed=seed, shingle=shingle, scheme=scheme)
    cpu = kernels.minhash(texts, device="cpu", **args)
    assert_same(kernels.minhash(texts, device="cuda", **args), cpu)
    record(label, len(texts))


@st.composite
def multi_ref_items(draw, max_refs=5):
    hyp, first = draw(related())
    others = draw(st.lists(any_text, max_size=max_refs - 1))
    return hyp, [first, *others]


def long_words(n: int, seed: int, vocab: int | None = None) -> list[str]:
    rng = random.Random(seed)
    return [f"w{rng.randrange(vocab)}" if vocab else f"w{i}" for i in range(n)]


class TestCudaEqualsCpu:
    pytestmark = [
        pytest.mark.cuda,
        pytest.mark.skipif(not CUDA, reason="needs impdist built with CUDA and a visible NVIDIA GPU"),
    ]

    # ROUGE

    @given(pairs, st.sampled_from(ROUGE_KINDS), st.booleans())
    def test_rouge_on_random_text(self, batch, kind, stem):
        cands, refs = map(list, zip(*batch))
        same_rouge(cands, refs, kind, stem)

    @pytest.mark.parametrize("kind", ROUGE_KINDS)
    @pytest.mark.parametrize("stem", [False, True])
    def test_rouge_on_mrpc(self, mrpc, kind, stem):
        cands = [r["src"] for r in mrpc]
        refs = [r["refs"][0] for r in mrpc]
        same_rouge(cands, refs, kind, stem, label="cuda:rouge:mrpc")

    @pytest.mark.parametrize("kind", ["rougeL", "rouge1", "rouge2"])
    def test_rouge_empty_and_long_texts(self, kind):
        # 10,000 distinct words: 157 words of LCS bit vector and a 10,000-id match-mask table.
        long_a = long_words(10_000, 1)
        long_b = long_a[:]
        random.Random(2).shuffle(long_b)
        big = " ".join(long_a)
        cands = ["", "", "a", big, big, " ".join(long_b), " ".join(long_words(10_000, 3, vocab=50)), big[:70_001]]
        refs = ["", "a", "", big, " ".join(long_b), big, " ".join(long_words(9_000, 4, vocab=50)), "x " + big]
        same_rouge(cands, refs, kind, False, label="cuda:rouge:edge")

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
        same_rouge(cands, refs, "rougeL", False, label="cuda:rouge:chunks")

    # BLEU

    @given(pairs)
    def test_bleu_single_reference(self, batch):
        hyps, refs = map(list, zip(*batch))
        same_bleu(hyps, refs)

    @given(st.lists(multi_ref_items(), min_size=1, max_size=15))
    def test_bleu_several_references(self, batch):
        hyps = [h for h, _ in batch]
        refs = [r for _, r in batch]
        same_bleu(hyps, refs)

    def test_bleu_on_mrpc(self, mrpc):
        hyps = [r["src"] for r in mrpc]
        same_bleu(hyps, [r["refs"][0] for r in mrpc], label="cuda:bleu:mrpc")
        # several references each: the pair's own and its neighbours' sentences
        refs = [[r["refs"][0], mrpc[i - 1]["src"], mrpc[i - 2]["refs"][0]] for i, r in enumerate(mrpc)]
        same_bleu(hyps, refs, label="cuda:bleu:mrpc")

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
        same_bleu(hyps, refs, label="cuda:bleu:edge")

    # MinHash

    @given(st.lists(any_text, min_size=1, max_size=10), st.sampled_from(NUM_PERMS), st.integers(0, 2**32 - 1),
           shingle_arg, st.sampled_from(SCHEMES))
    def test_minhash_on_random_text(self, texts, num_perm, seed, shingle, scheme):
        same_minhash(texts, num_perm, seed, shingle, scheme)

    @pytest.mark.parametrize("scheme", SCHEMES)
    @pytest.mark.parametrize("shingle", ["word", 5])
    @pytest.mark.parametrize("num_perm", NUM_PERMS)
    def test_minhash_on_mrpc(self, mrpc, scheme, shingle, num_perm):
        texts = [r["src"] for r in mrpc] + [r["refs"][0] for r in mrpc]
        same_minhash(texts, num_perm, 1, shingle, scheme, label="cuda:minhash:mrpc")

    @pytest.mark.parametrize("scheme", SCHEMES)
    @pytest.mark.parametrize("shingle", ["word", 1, 3, 60, 130])
    def test_minhash_edge_texts(self, scheme, shingle):
        # Texts without shingles between texts with some (repeated shingle offsets), shingles of
        # 55/56/64/119/120 bytes (SHA-1's padding cases), multi-byte code points, a long text.
        rng = random.Random(8)
        texts = ["", "   ", "a", "", "\u00e9\u6771\U0001F600 x", "\n\t"]
        texts += ["".join(rng.choice("ab c") for _ in range(n)) for n in (55, 56, 63, 64, 119, 120, 200)]
        texts += [" ".join(long_words(10_000, 9, vocab=2_000)), ""]
        same_minhash(texts, 128, 1, shingle, scheme, label="cuda:minhash:edge")

    # Every kernel

    def test_empty_batch(self):
        assert_same(kernels.rouge_stats([], [], device="cuda"), kernels.rouge_stats([], [], device="cpu"))
        assert_same(kernels.bleu_stats([], [], device="cuda"), kernels.bleu_stats([], [], device="cpu"))
        for scheme in SCHEMES:
            assert_same(kernels.minhash([], scheme=scheme, device="cuda"),
                        kernels.minhash([], scheme=scheme, device="cpu"))

    def test_batch_over_many_blocks(self, mrpc):
        # 50,000 items: hundreds of blocks per launch, items of every length side by side.
        rng = random.Random(10)
        rows = [mrpc[rng.randrange(len(mrpc))] for _ in range(50_000)]
        cands = [r["src"] for r in rows]
        refs = [r["refs"][0] for r in rows]
        same_rouge(cands, refs, "rougeL", True, label="cuda:rouge:large")
        same_bleu(cands, refs, label="cuda:bleu:large")
        same_minhash(cands, 128, 1, "word", "affine32", label="cuda:minhash:large")

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
    with pytest.raises(RuntimeError, match=r"device='cuda' (needs impdist built with CUDA|but no CUDA device)"):
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
