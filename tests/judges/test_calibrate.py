"""impdist.judges.calibrate (ROC AUC, best-F1 threshold, judge directions) and
impdist.judges.labelled (format detection, the deterministic held-out split)."""
from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from impdist.errors import EmptyInputError, InputNotFoundError, MalformedInputError
from impdist.judges.calibrate import Calibration, best_f1, calibrate, f1_at, format_table, roc_auc
from impdist.judges.labelled import heldout_mask, read_labelled
from tests.conftest import data_file


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- labelled files -----------------------------------------------------------------------------

def test_formats_are_detected_from_the_fields(tmp_path):
    mrpc = read_labelled(write_jsonl(tmp_path / "m.jsonl", [
        {"id": "1", "a": "x", "b": "y", "label": 1}, {"id": "2", "a": "u", "b": "v", "label": 0}]))
    assert (mrpc.format, mrpc.directional, mrpc.positive.tolist()) == ("mrpc", False, [True, False])
    sts = read_labelled(write_jsonl(tmp_path / "s.jsonl", [
        {"id": "1", "a": "x", "b": "y", "score": 4.0}, {"id": "2", "a": "u", "b": "v", "score": 3.99}]))
    assert (sts.format, sts.positive.tolist()) == ("sts", [True, False])  # positive when score >= 4
    sick = read_labelled(write_jsonl(tmp_path / "k.jsonl", [
        {"id": "1", "premise": "x", "hypothesis": "y", "label": "neutral", "relatedness": 3.1},
        {"id": "2", "premise": "u", "hypothesis": "v", "label": "entailment"}]))
    assert (sick.format, sick.directional, sick.a, sick.b) == ("sick", True, ["x", "u"], ["y", "v"])
    assert sick.label_names[sick.labels[0]] == "neutral" and sick.positive.tolist() == [False, True]


@pytest.mark.parametrize("rows, message", [
    ([{"id": "1", "text": "x", "label": 1}], r"record 1: cannot tell the format.*'text'"),
    ([{"id": "1", "a": "x", "b": "y", "label": 1}, {"id": "2", "a": "x", "label": 0}],
     r"record 2: no field 'b'"),
    ([{"id": "1", "a": "x", "b": "y", "label": 2}], r"record 1: field 'label' is 2; an MRPC label is 0 or 1"),
    ([{"id": "1", "a": "x", "b": "y", "score": 7}], r"field 'score' is 7"),
    ([{"id": "1", "premise": "x", "hypothesis": "y", "label": "yes"}], r"field 'label' is 'yes'"),
    ([{"id": "1", "a": "x", "b": None, "label": 1}], r"field 'b' is NoneType, expected a string"),
])
def test_bad_records_name_the_file_record_and_field(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(MalformedInputError, match=message) as err:
        read_labelled(path)
    assert str(path) in str(err.value)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputNotFoundError, match="no such file"):
        read_labelled(tmp_path / "nope.jsonl")
    with pytest.raises(EmptyInputError, match="holds no records"):
        read_labelled(write_jsonl(tmp_path / "empty.jsonl", []))


def test_heldout_mask_is_deterministic_and_independent_of_the_other_ids():
    ids = [f"pair-{i}" for i in range(5000)]
    mask = heldout_mask(ids, 0.2)
    assert 0.18 < mask.mean() < 0.22
    assert np.array_equal(heldout_mask(ids[::-1], 0.2), mask[::-1])       # order does not matter
    assert np.array_equal(heldout_mask(ids[:100], 0.2), mask[:100])        # nor do the other ids
    assert not heldout_mask(ids, 0.0).any() and heldout_mask(ids, 1.0).all()
    assert np.all(heldout_mask(ids, 0.1) <= mask)                          # nested fractions


def test_train_and_heldout_split_the_real_files_disjointly():
    for name in ("mrpc_dev_labelled.jsonl", "sts_dev.jsonl", "sick_nli_dev.jsonl"):
        pairs = read_labelled(data_file(name))
        train, held = pairs.split("train"), pairs.split("heldout")
        assert not set(train.ids) & set(held.ids)
        assert len(train) + len(held) == len(pairs) == len(pairs.split("all"))
        assert 0.17 < len(held) / len(pairs) < 0.23


# --- metrics ------------------------------------------------------------------------------------

def brute_force_auc(scores, positive) -> float:
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in product(pos, neg))
    return wins / (len(pos) * len(neg))


labelled_scores = st.lists(st.tuples(st.integers(0, 6).map(lambda x: x / 6), st.booleans()),
                           min_size=2, max_size=60)  # few distinct values: many ties


@given(labelled_scores)
def test_roc_auc_matches_a_pairwise_count(rows):
    scores, positive = np.array([s for s, _ in rows]), np.array([p for _, p in rows])
    if positive.all() or not positive.any():
        assert np.isnan(roc_auc(scores, positive))
    else:
        assert roc_auc(scores, positive) == pytest.approx(brute_force_auc(scores, positive))


@given(labelled_scores)
def test_best_f1_is_the_best_of_every_score_as_threshold(rows):
    scores, positive = np.array([s for s, _ in rows]), np.array([p for _, p in rows])
    threshold, p, r, f1 = best_f1(scores, positive)
    assert (p, r, f1) == pytest.approx(f1_at(scores, positive, threshold))
    assert f1 == pytest.approx(max(f1_at(scores, positive, t)[2] for t in scores))


def test_f1_at_a_threshold():
    p, r, f1 = f1_at(np.array([0.9, 0.8, 0.4, 0.1]), np.array([True, False, True, False]), 0.5)
    assert (p, r, f1) == pytest.approx((0.5, 0.5, 0.5))
    assert f1_at(np.array([0.1]), np.array([True]), 0.5) == (0.0, 0.0, 0.0)


# --- calibrate ----------------------------------------------------------------------------------

class LengthJudge:
    """A fake directional judge: the score is len(hypothesis) / (len(premise) + len(hypothesis))."""

    spec, symmetric, default_threshold = "fake", False, 0.5

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def score(self, premises, hypotheses):
        self.calls.append((list(premises), list(hypotheses)))
        return np.array([len(h) / (len(p) + len(h)) for p, h in zip(premises, hypotheses)], np.float32)


def test_symmetric_data_takes_the_minimum_of_both_orders_directional_data_one(tmp_path):
    rows = [{"id": f"p{i}", "a": "x" * (i + 1), "b": "y" * 3, "label": i % 2} for i in range(6)]
    judge = LengthJudge()
    c = calibrate(judge, write_jsonl(tmp_path / "m.jsonl", rows), split="all", threshold=0.4)
    a = [r["a"] for r in rows]
    assert judge.calls == [(a + ["yyy"] * 6, ["yyy"] * 6 + a)]
    expected = [min(3 / (len(x) + 3), len(x) / (len(x) + 3)) for x in a]
    assert c.roc_auc == pytest.approx(roc_auc(np.array(expected), np.array([0, 1] * 3, bool)))
    assert (c.n, c.positives, c.threshold, c.accuracy) == (6, 3, 0.4, None)

    sick = [{"id": f"s{i}", "premise": "x" * (i + 1), "hypothesis": "yyy",
             "label": ["entailment", "neutral"][i % 2]} for i in range(6)]
    judge = LengthJudge()
    calibrate(judge, write_jsonl(tmp_path / "s.jsonl", sick), split="all")
    assert judge.calls == [(a, ["yyy"] * 6)]


def test_three_way_accuracy_maps_labels_by_name(tmp_path):
    class NliJudge(LengthJudge):
        labels, positive = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL"), 1

        def probabilities(self, premises, hypotheses):
            gold = {"a": 1, "b": 2, "c": 0}  # premise text -> the judge's index of the gold label
            return np.eye(3, dtype=np.float32)[[gold[p] for p in premises]]

    rows = [{"id": str(i), "premise": p, "hypothesis": "h", "label": g} for i, (p, g) in
            enumerate([("a", "entailment"), ("b", "neutral"), ("c", "contradiction"), ("a", "neutral")])]
    c = calibrate(NliJudge(), write_jsonl(tmp_path / "s.jsonl", rows), split="all")
    assert c.accuracy == pytest.approx(0.75)
    assert c.roc_auc == pytest.approx(brute_force_auc([1, 0, 0, 1], [True, False, False, False]))


def test_calibration_table_and_dict():
    c = Calibration("embedding", "mrpc", "heldout", 10, 6, 0.75, 0.5, 0.8, 0.6, 0.7, None)
    assert c.as_dict()["roc_auc"] == 0.75
    table = format_table([c])
    assert table.splitlines()[0].startswith("| judge | data |") and "| embedding | mrpc | heldout | 10 | 0.750 |" in table
