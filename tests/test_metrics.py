"""Evaluation metrics: iBLEU and ROUGE against sacrebleu and rouge-score on random inputs;
BERT-iBLEU by hand on three examples."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import sacrebleu
from hypothesis import given
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from impdist.errors import ImpdistError
from impdist.metrics import bert_ibleu_scores, ibleu, paraphrase_metrics, summary_metrics
from tests.kernels.strategies import any_text, related, sentence


@st.composite
def items(draw, k: int):
    """(output, k refs, source): an output related to its first reference, and maybe to its source."""
    out, ref = draw(related())
    others = draw(st.lists(any_text, min_size=k - 1, max_size=k - 1))
    src = draw(st.one_of(st.just(out), any_text, related().map(lambda p: p[1])))
    return out, [ref, *others], src


@given(st.integers(1, 3).flatmap(lambda k: st.lists(items(k), min_size=1, max_size=12)))
def test_ibleu_is_sacrebleus_corpus_bleu_to_refs_and_to_sources(batch):
    outs, refs, srcs = map(list, zip(*batch))
    streams = [[r[k] for r in refs] for k in range(len(refs[0]))]
    got = ibleu(outs, refs, srcs)
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(outs, streams).score, abs=1e-9)
    assert got["self_bleu"] == pytest.approx(sacrebleu.corpus_bleu(outs, [srcs]).score, abs=1e-9)
    assert got["ibleu"] == pytest.approx(0.7 * got["bleu"] - 0.3 * got["self_bleu"], abs=1e-9)


@given(st.lists(st.tuples(sentence, st.lists(sentence, min_size=1, max_size=3), sentence), min_size=1, max_size=12))
def test_summary_rouge_is_rouge_scores_best_reference(batch):
    outs, refs, srcs = map(list, zip(*batch))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = summary_metrics(outs, refs, srcs)
    for kind in ("rouge1", "rouge2", "rougeL"):
        want = np.mean([max(scorer.score(r, o)[kind].fmeasure for r in rs) for o, rs in zip(outs, refs)])
        assert got[kind] == pytest.approx(100 * want, abs=1e-9)


def test_bert_ibleu_by_hand():
    # beta = 4: (1 + 4) / (4 / sim + 1 / (1 - selfBLEU/100))
    got = bert_ibleu_scores(np.array([0.9, 0.5, 1.0]), np.array([50.0, 0.0, 100.0]))
    assert got[0] == pytest.approx(100 * 5 / (4 / 0.9 + 1 / 0.5))   # 77.586...
    assert got[1] == pytest.approx(100 * 5 / (4 / 0.5 + 1 / 1.0))   # 55.555...
    assert got[2] == 0.0                                            # a copy scores 0
    assert got[0] == pytest.approx(77.5862, abs=1e-4) and got[1] == pytest.approx(55.5556, abs=1e-4)
    assert bert_ibleu_scores(np.array([-0.2]), np.array([10.0]))[0] == 0.0  # unrelated: 0, not negative


class FixedEmbedder:
    """Embeddings chosen by hand: each text maps to a unit vector."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in table.items()}

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts])


def test_paraphrase_metrics_use_the_embedder_and_sentence_self_bleu():
    srcs = ["the cat sat on the mat today", "a storm hit the coast"]
    outs = ["the cat sat on the mat today", "heavy winds struck the shore"]
    emb = FixedEmbedder({srcs[0]: [1, 0], outs[0]: [1, 0], srcs[1]: [1, 0], outs[1]: [0.8, 0.6]})
    got = paraphrase_metrics(outs, [["a cat was on the mat"], ["winds hit the shore"]], srcs, embedder=emb)
    self_bleu_2 = sacrebleu.sentence_bleu(outs[1], [srcs[1]]).score
    want_2 = 100 * 5 / (4 / 0.8 + 1 / (1 - self_bleu_2 / 100))
    assert got["bert_ibleu"] == pytest.approx((0.0 + want_2) / 2)  # the copy adds 0
    assert got["similarity"] == pytest.approx(100 * (1.0 + 0.8) / 2) and got["copies"] == 50.0


def test_mismatched_inputs_are_user_errors():
    with pytest.raises(ImpdistError, match="as many outputs"):
        ibleu(["a"], [["b"], ["c"]], ["d"])
    with pytest.raises(ImpdistError, match="as many outputs"):
        summary_metrics([], [], [])
