"""Datasets as training examples: reading pairs, the held-out split, the loss mask, padding."""
from __future__ import annotations

import json

import numpy as np
import pytest

from impdist.io import open_stage
from impdist.models.names import load_tokenizer
from impdist.student.codes import PromptFormat
from impdist.student.data import IGNORE, collate, encode_pairs, prompt_ids, read_pairs, split_heldout
from impdist.student.errors import StudentError
from tests.student.conftest import make_pairs, write_jsonl


def test_reads_a_jsonl_file_of_pairs(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"src": "a b", "tgt": "b a"}, {"src": "c", "tgt": "d", "task": "summary"}])
    pairs, info = read_pairs(path)
    assert [p["task"] for p in pairs] == ["paraphrase", "summary"] and pairs[0]["round"] == 0
    assert info.pairs == 2 and info.tasks == {"paraphrase": 1, "summary": 1} and info.cards == {}


def test_reads_the_kept_pairs_of_a_dataset_stage_with_its_card(tmp_path):
    stage = open_stage(tmp_path / "run", "dataset", {"x": 1})
    stage.write_shard("kept-00000", make_pairs(3))
    stage.write_shard("rejected-00000", [{**make_pairs(1)[0], "reason": "too_similar"}])
    (stage.path / "card.json").write_text(json.dumps({"task": "paraphrase", "judge": "embedding", "kept": 3,
                                                      "filters": {"max_rouge_l": 0.7}, "histograms": []}))
    stage.complete()
    pairs, info = read_pairs(tmp_path / "run")
    assert len(pairs) == 3 and info.cards["paraphrase"]["judge"] == "embedding"
    assert "histograms" not in info.cards["paraphrase"]
    assert read_pairs(stage.path)[1].fingerprint == info.fingerprint


def test_several_datasets_train_one_student_with_a_card_per_task(tmp_path):
    summary = open_stage(tmp_path / "summ", "dataset", {"x": 2})
    summary.write_shard("kept-00000", [{**p, "task": "summary"} for p in make_pairs(2, seed=1)])
    (summary.path / "card.json").write_text(json.dumps({"task": "summary", "judge": "nli:x"}))
    summary.complete()
    para = write_jsonl(tmp_path / "p.jsonl", make_pairs(3))
    pairs, info = read_pairs([para, summary.path])
    assert [p["task"] for p in pairs] == ["paraphrase"] * 3 + ["summary"] * 2
    assert info.tasks == {"paraphrase": 3, "summary": 2} and info.cards == {"summary": {"task": "summary",
                                                                                         "judge": "nli:x"}}
    assert info.fingerprint != read_pairs(para)[1].fingerprint and str(para.resolve()) in info.path
    assert read_pairs([summary.path, para])[1].fingerprint != info.fingerprint  # the order is the data order
    with pytest.raises(StudentError, match="no dataset given"):
        read_pairs([])


@pytest.mark.parametrize("content, words", [
    ('{"src": "a"}\n', r"p.jsonl:1: field 'tgt'"),
    ('{"src": "a", "tgt": "b", "task": "x"}\n', "p.jsonl:1: task must be one of paraphrase, summary, got 'x'"),
    ("\n", "holds no pairs")])
def test_bad_datasets_name_the_file_and_the_fix(tmp_path, content, words):
    (tmp_path / "p.jsonl").write_text(content)
    with pytest.raises(StudentError, match=words):
        read_pairs(tmp_path / "p.jsonl")


def test_a_folder_without_a_dataset_is_refused(tmp_path):
    with pytest.raises(StudentError, match="not a dataset"):
        read_pairs(tmp_path)
    with pytest.raises(StudentError, match="no such file"):
        read_pairs(tmp_path / "nope")


def test_heldout_takes_whole_contexts():
    pairs = make_pairs(40)
    train, held = split_heldout(pairs, 0.1, 100, seed=0)
    assert len(train) + len(held) == 40 and 4 <= len(held) <= 6
    assert not {p["context_id"] for p in train} & {p["context_id"] for p in held}
    assert split_heldout(pairs, 0.1, 100, seed=0) == (train, held)
    assert split_heldout(pairs, 0.0, 100, seed=0) == (pairs, [])
    assert len(split_heldout(pairs, 0.5, 3, seed=0)[1]) <= 4


def test_the_loss_falls_on_the_target_and_eos_only(tiny_model):
    tok = load_tokenizer(tiny_model)
    fmt = PromptFormat()
    pair = make_pairs(1)[0]
    (ex,) = encode_pairs([pair], tok, fmt, decoder_only=True, max_length=160, code_dropout=1.0, exemplar_rate=0.0,
                         seed=0)
    prompt = prompt_ids(tok, fmt.prompt(pair["src"], fmt.request("paraphrase")), decoder_only=True)
    assert list(ex.input_ids[: len(prompt)]) == prompt and set(ex.labels[: len(prompt)]) == {IGNORE}
    target = list(ex.labels[len(prompt):])
    assert target == list(ex.input_ids[len(prompt):]) and target[-1] == tok.eos_token_id
    assert target[:-1] == tok(" " + pair["tgt"], add_special_tokens=False)["input_ids"]


def test_long_prompts_lose_their_source_end_not_the_target(tiny_model):
    tok = load_tokenizer(tiny_model)
    pair = {**make_pairs(1)[0], "src": " ".join(["council"] * 300)}
    (ex,) = encode_pairs([pair], tok, PromptFormat(), decoder_only=True, max_length=64, code_dropout=0.0,
                         exemplar_rate=0.0, seed=0)
    assert len(ex.input_ids) == 64 and ex.labels[-1] == tok.eos_token_id
    assert sum(label != IGNORE for label in ex.labels) > 5


def test_collate_pads_on_the_right_and_masks_pads():
    from impdist.student.data import Example

    batch = collate([Example((5, 6, 7), (IGNORE, 6, 7)), Example((8,), (8,))], pad_id=0, decoder_only=True)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [8, IGNORE, IGNORE]]
    s2s = collate([Example((5, 6, 7), (1, 2)), Example((8,), (3,))], pad_id=0, decoder_only=False)
    assert s2s["labels"].tolist() == [[1, 2], [3, IGNORE]] and s2s["input_ids"].dtype == np.int64
