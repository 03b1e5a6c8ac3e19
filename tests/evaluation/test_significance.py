"""Bootstrap intervals and the paired test: the same draws, intervals and p-values as sacrebleu's
paired bootstrap on corpus BLEU (its reference implementation), on random and adversarial systems."""
from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU
from sacrebleu.significance import _paired_bs_test, estimate_ci

from impdist.evaluation.significance import Bootstrap, resample_weights
from impdist.metrics import from_item_stats, item_stats

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "home", "fast", "Paris", "rain", "2.5", "-", "'s"]
sentence = st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join)


@settings(max_examples=15, deadline=None)
@given(st.data(), st.integers(min_value=2, max_value=30))
def test_paired_test_matches_sacrebleu_paired_bootstrap(data, n):
    refs = [data.draw(sentence) or "x" for _ in range(n)]
    sys_a = [data.draw(st.one_of(sentence, st.sampled_from(refs))) for _ in range(n)]
    sys_b = [data.draw(sentence) for _ in range(n)]
    srcs = ["unused"] * n
    boot = Bootstrap(n, draws=200, seed=7)
    boot.add("a", {k: v for k, v in item_stats("paraphrase", sys_a, [[r] for r in refs], srcs).items()})
    boot.add("b", {k: v for k, v in item_stats("paraphrase", sys_b, [[r] for r in refs], srcs).items()})
    got = boot.compare("a", "b", "bleu")

    metric = BLEU()
    bl_stats = metric._extract_corpus_statistics(sys_b, [refs])
    bl_score = metric._aggregate_and_compute(bl_stats)
    _, want = _paired_bs_test({"BLEU": (bl_stats, bl_score)}, "a", sys_a, [refs], {"BLEU": metric}, n_samples=200,
                              seed=7)
    assert got.diff.value == pytest.approx(want["BLEU"].score - bl_score.score, abs=1e-9)
    assert got.p == pytest.approx(want["BLEU"].p_value, abs=1e-12)
    # sacrebleu's interval is mean +- half the width between the same two sorted samples
    iv = boot.interval("a", "bleu")
    mean, half = want["BLEU"].mean, want["BLEU"].ci
    assert (iv.high - iv.low) / 2 == pytest.approx(half, abs=1e-6)
    assert iv.value == pytest.approx(sacrebleu.corpus_bleu(sys_a, [refs]).score, abs=1e-9)
    assert iv.low <= mean <= iv.high


def test_resamples_draw_every_item_with_replacement_n_times():
    w = resample_weights(50, draws=300, seed=1)
    assert w.shape == (300, 50) and (w.sum(axis=1) == 50).all() and (w >= 0).all()
    assert (resample_weights(50, draws=300, seed=1) == w).all() and not (resample_weights(50, 300, 2) == w).all()
    with pytest.raises(ValueError):
        resample_weights(0)


def test_weighted_stats_equal_scoring_the_resampled_texts():
    """from_item_stats with counts = the metrics of the texts drawn that many times."""
    rng = np.random.default_rng(0)
    srcs = [" ".join(rng.choice(WORDS, 6)) for _ in range(12)]
    outs = [" ".join(rng.choice(WORDS, 5)) for _ in range(12)]
    refs = [[" ".join(rng.choice(WORDS, 7))] for _ in range(12)]
    for task in ("paraphrase", "summary"):
        items = item_stats(task, outs, refs, srcs)
        counts = resample_weights(12, draws=5, seed=3)
        for row in counts:
            idx = np.repeat(np.arange(12), row.astype(int))
            direct = item_stats(task, [outs[i] for i in idx], [refs[i] for i in idx], [srcs[i] for i in idx])
            want = {k: v[0] for k, v in from_item_stats(direct).items()}
            got = {k: v[0] for k, v in from_item_stats(items, row[None, :]).items()}
            assert got == pytest.approx(want, abs=1e-9)


def test_a_system_against_itself_is_no_difference_and_better_outputs_win():
    refs = [[f"the cat {i} sat on the mat"] for i in range(60)]
    srcs = [f"a cat {i} was sitting on a mat" for i in range(60)]
    boot = Bootstrap(60)
    boot.add("ref", item_stats("summary", [r[0] for r in refs], refs, srcs))
    boot.add("src", item_stats("summary", srcs, refs, srcs))
    same = boot.compare("ref", "ref", "rougeL")
    # sacrebleu's rule counts draws strictly beyond the observed difference, so a system against
    # itself gets its smallest p; the interval [0, 0] is what says "no difference"
    assert same.diff.value == 0 and same.diff.low == 0 == same.diff.high and same.p == 1 / 1001
    win = boot.compare("ref", "src", "rougeL")
    assert win.diff.low > 0 and win.p < 0.05
    assert estimate_ci(np.array([1.0, 2.0]))  # the reference helper this module mirrors still exists
    with pytest.raises(ValueError, match="expected 60"):
        boot.add("short", item_stats("summary", ["x"], [["y"]], ["z"]))
