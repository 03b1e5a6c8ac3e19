"""impdist.judges.embed: pooling as configured, unit rows, input order whatever the batching."""
from __future__ import annotations

import json

import numpy as np
import pytest

from impdist.judges.embed import Embedder, cosine, embed_pairs, length_batches, pair_similarity
from tests.judges.test_equivalence import tiny_bert_dir

TEXTS = ["the city council voted on tuesday to approve new budget", "rain", "shares of company fell",
         "police arrested two men", "the president said in statement that government would"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_bert_dir(tmp_path_factory.mktemp("embed") / "encoder")


def test_rows_are_unit_length_in_input_order_whatever_the_batch_size(encoder):
    one = Embedder(str(encoder), batch_size=1).embed(TEXTS)
    batched = Embedder(str(encoder), batch_size=3).embed(TEXTS)
    assert one.shape == (len(TEXTS), 32) and one.dtype == np.float32
    assert np.allclose(np.linalg.norm(one, axis=1), 1, atol=1e-5)
    assert np.allclose(batched, one, atol=1e-5)  # padding and length-sorting change nothing
    assert np.allclose(Embedder(str(encoder)).embed(TEXTS[::-1]), one[::-1], atol=1e-5)


def test_empty_input(encoder):
    embedder = Embedder(str(encoder))
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_mean_pooling_by_default_and_the_pooling_config_when_present(encoder, tmp_path):
    import shutil

    import torch
    from transformers import AutoModel, AutoTokenizer

    model, tokenizer = AutoModel.from_pretrained(encoder).eval(), AutoTokenizer.from_pretrained(encoder)
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    cls = torch.nn.functional.normalize(hidden[:, 0], dim=1).numpy()
    assert np.allclose(Embedder(str(encoder)).embed(TEXTS[:2]), mean, atol=1e-5)

    with_cls = shutil.copytree(encoder, tmp_path / "cls")
    (with_cls / "1_Pooling").mkdir()
    (with_cls / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    assert np.allclose(Embedder(str(with_cls)).embed(TEXTS[:2]), cls, atol=1e-5)


class CountingEmbedder:
    """Unit vectors at a given angle from the x axis; records every text it embeds."""

    def __init__(self, angles: dict[str, float]) -> None:
        self.angles, self.seen = angles, []

    def embed(self, texts):
        self.seen += list(texts)
        return np.array([[np.cos(self.angles[t]), np.sin(self.angles[t])] for t in texts], np.float32)


def test_pair_similarity_is_the_cosine_with_each_text_embedded_once():
    emb = CountingEmbedder({"a": 0.0, "b": np.pi / 3, "c": np.pi / 2, "d": np.pi})
    sims = pair_similarity(emb, ["a", "a", "b", "d"], ["b", "a", "c", "a"])
    assert sims.dtype == np.float64 and sims == pytest.approx([0.5, 1.0, np.cos(np.pi / 6), -1.0], abs=1e-6)
    assert sorted(emb.seen) == ["a", "b", "c", "d"]
    ea, eb = embed_pairs(emb, ["d"], ["d"])
    assert np.array_equal(ea, eb) and cosine(ea * 1.0001, eb * 1.0001)[0] == 1.0  # clipped against rounding
    assert pair_similarity(emb, [], []).shape == (0,) and emb.seen[4:] == ["d"]  # nothing embedded for no pairs
    with pytest.raises(ValueError, match="as many texts"):
        pair_similarity(emb, ["a"], [])


def test_length_batches_cover_every_index_once_longest_first():
    lengths = [3, 9, 1, 9, 5, 2, 7]
    batches = list(length_batches(lengths, 3))
    assert [len(b) for b in batches] == [3, 3, 1]
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    with pytest.raises(ValueError):
        list(length_batches(lengths, 0))


def test_embedded_minilm_matches_its_sentence_transformers_pipeline():
    """The embedded MiniLM: 384-d, mean-pooled; a paraphrase is closer than an unrelated sentence."""
    embedder = Embedder("minilm-l6")
    assert embedder.dim == 384 and embedder.modes == ("mean_tokens",) and embedder.max_length == 256
    v = embedder.embed(["A man is playing a guitar.", "Someone plays the guitar.", "The stock market crashed."])
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]
