"""impdist.judges.equivalence: spec parsing, the entailment / paraphrase label lookup, pair directions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from impdist.judges import equivalence as judges
from impdist.judges.equivalence import (ClassifierJudge, EmbeddingJudge, Judge, JudgeError,
                                    bidirectional_scores, load_judge)
from impdist.models.names import ModelNotFoundError
from tests.tiny_models import WORDS

PREMISES = ["the city council voted on tuesday", "shares of company fell sharply", "heavy rain caused flooding"]
HYPOTHESES = ["the council voted", "police arrested two men", "flooding across region"]


def tiny_bert_dir(path: Path, *, id2label: tuple[str, ...] | None = None, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with a WordPiece tokenizer over tests.tiny_models.WORDS, saved to
    path: a bare encoder (BertModel) or, with id2label, a sequence classifier with those labels."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS)), *".,0123456789"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"))
    labels = {} if id2label is None else {"id2label": dict(enumerate(id2label)),
                                          "label2id": {n: i for i, n in enumerate(id2label)}}
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, initializer_range=0.2, **labels)
    torch.manual_seed(seed)
    model = (BertModel if id2label is None else BertForSequenceClassification)(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("judges")
    return {
        "encoder": tiny_bert_dir(root / "encoder"),
        # entailment deliberately not at index 0, and upper-case as in many hub models
        "nli": tiny_bert_dir(root / "nli", id2label=("CONTRADICTION", "NEUTRAL", "ENTAILMENT")),
        "sentiment": tiny_bert_dir(root / "sentiment", id2label=("negative", "neutral", "positive")),
        "paraphrase": tiny_bert_dir(root / "paraphrase", id2label=("LABEL_0", "LABEL_1")),
        "named": tiny_bert_dir(root / "named", id2label=("equivalent", "not_equivalent")),
    }


# --- specs --------------------------------------------------------------------------------------

def test_nli_score_is_the_entailment_probability_wherever_it_sits(models):
    judge = load_judge(f"nli:{models['nli']}")
    assert isinstance(judge, Judge) and judge.spec == f"nli:{models['nli']}"
    assert judge.positive == 2 and not judge.symmetric and judge.default_threshold == 0.75
    probs = judge.probabilities(PREMISES, HYPOTHESES)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    scores = judge.score(PREMISES, HYPOTHESES)
    assert scores.dtype == np.float32 and np.array_equal(scores, probs[:, 2])


def test_a_model_without_an_entailment_label_is_refused_naming_its_labels(models):
    with pytest.raises(JudgeError, match=r"0: 'negative', 1: 'neutral', 2: 'positive'.*no entailment"):
        load_judge(f"nli:{models['sentiment']}")


def test_paraphrase_label_from_id2label_names(models):
    assert load_judge(f"paraphrase:{models['paraphrase']}").positive == 1      # LABEL_1
    judge = load_judge(f"paraphrase:{models['named']}")
    assert judge.positive == 0 and judge.default_threshold == 0.5              # "equivalent"
    with pytest.raises(JudgeError, match="not a binary paraphrase classifier"):
        load_judge(f"paraphrase:{models['nli']}")


def test_paraphrase_label_and_threshold_from_impdist_judge_json(models, tmp_path):
    import shutil

    path = Path(shutil.copytree(models["paraphrase"], tmp_path / "p"))
    (path / judges.JUDGE_META).write_text(json.dumps({"positive_label": "LABEL_0", "threshold": 0.62}))
    judge = load_judge(f"paraphrase:{path}")
    assert judge.positive == 0 and judge.default_threshold == pytest.approx(0.62)


def test_a_bare_encoder_is_not_a_classifier(models):
    with pytest.raises(JudgeError, match="not a trained sequence classifier.*impdist judge train"):
        load_judge(f"nli:{models['encoder']}")


@pytest.mark.parametrize("spec, error, message", [
    ("bleurt:foo", JudgeError, "unknown judge 'bleurt:foo'.*'nli:MODEL'"),
    ("nli", JudgeError, "names no model: write nli:MODEL"),
    ("paraphrase:", JudgeError, "names no model"),
    ("nli:/no/such/dir", ModelNotFoundError, "no such file or directory"),
    ("embedding:smollm2-135m", ModelNotFoundError, "embedding model is needed"),
])
def test_bad_specs(spec, error, message):
    with pytest.raises(error, match=message):
        load_judge(spec)


# --- directions ---------------------------------------------------------------------------------

def test_bidirectional_scores_take_the_minimum_of_both_orders(models):
    judge = load_judge(f"nli:{models['nli']}", batch_size=2)
    forward, backward = judge.score(PREMISES, HYPOTHESES), judge.score(HYPOTHESES, PREMISES)
    assert not np.allclose(forward, backward)  # a random cross-encoder is directional
    assert np.allclose(bidirectional_scores(judge, PREMISES, HYPOTHESES), np.minimum(forward, backward),
                       atol=1e-6)


def test_scores_do_not_depend_on_batching_or_order(models):
    judge = ClassifierJudge(str(models["nli"]), "nli", batch_size=1)
    one = judge.score(PREMISES, HYPOTHESES)
    judge.batch_size = 8
    assert np.allclose(judge.score(PREMISES, HYPOTHESES), one, atol=1e-5)
    assert np.allclose(judge.score(PREMISES[::-1], HYPOTHESES[::-1]), one[::-1], atol=1e-5)
    assert judge.score([], []).shape == (0,)
    with pytest.raises(ValueError, match="pair up"):
        judge.score(PREMISES, HYPOTHESES[:2])


def test_embedding_judge_is_a_symmetric_cosine(models):
    judge = load_judge(f"embedding:{models['encoder']}")
    assert isinstance(judge, EmbeddingJudge) and judge.symmetric
    ab, ba = judge.score(PREMISES, HYPOTHESES), judge.score(HYPOTHESES, PREMISES)
    assert np.allclose(ab, ba, atol=1e-6) and np.all(np.abs(ab) <= 1)
    assert np.allclose(judge.score(PREMISES, PREMISES), 1, atol=1e-5)
    assert np.array_equal(bidirectional_scores(judge, PREMISES, HYPOTHESES), ab)


def test_embedded_minilm_judge_prefers_the_paraphrase():
    judge = load_judge("embedding")
    assert judge.spec == "embedding" and judge.default_threshold == judges.EMBEDDING_THRESHOLD
    scores = judge.score(["The cat sat on the mat.", "The cat sat on the mat."],
                         ["A cat was sitting on the mat.", "Stock markets fell sharply on Monday."])
    assert scores[0] > judge.default_threshold > scores[1]
