"""The dataset card is a Hub-ready README.md (huggingface_hub reads its metadata back: licence,
language, tasks, size, `configs` naming the shards, teacher, impdist version, filters), and
`datasets` loads a filtered run's dataset from its Parquet and its JSONL shards with the same rows."""
from __future__ import annotations

import json

import pytest

from impdist import __version__
from impdist.filters.card import size_category
from impdist.filters.pipeline import filter_dataset, read_dataset
from impdist.io import open_stage
from impdist.io.stats import read_stats
from tests.filters.test_pipeline import GROUPS, fakes  # noqa: F401  (a fixture)

TEACHER = {"model": "smollm2-135m", "backend": "onnx-int8"}


def _run(root, fmt: str):
    stage = open_stage(root, "candidates", {"teacher": TEACHER}, fmt=fmt)
    stage.write_shard("000000", GROUPS)
    stage.complete()
    return filter_dataset(root, quiet=True, fmt=fmt)


def test_the_readme_carries_hub_metadata_huggingface_hub_reads(fakes, tmp_path):  # noqa: F811
    hub = pytest.importorskip("huggingface_hub")
    res = _run(tmp_path / "run", "parquet")
    assert res.card.name == "README.md"
    card = hub.DatasetCard.load(res.card)
    data = card.data.to_dict()
    assert data["license"] == "unknown" and data["language"] == ["en"]
    assert data["task_categories"] == ["sentence-similarity", "text-generation"]
    assert data["size_categories"] == ["n<1K"]
    assert data["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "kept-*.parquet"}]},
                               {"config_name": "rejected",
                                "data_files": [{"split": "train", "path": "rejected-*.parquet"}]}]
    meta = data["impdist"]
    assert meta["version"] == __version__ and meta["task"] == "paraphrase"
    assert meta["teacher"] == "smollm2-135m" and meta["teacher_hub_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["judge"] == "embedding" and meta["filters"]["max_rouge_l"] == pytest.approx(0.75)
    assert card.text.lstrip().startswith("# Dataset card: paraphrase pairs")
    assert "kept-*.parquet" in card.text  # the load snippet names the shards


def test_datasets_loads_the_run_from_parquet_and_jsonl_with_the_same_rows(fakes, tmp_path):  # noqa: F811
    datasets = pytest.importorskip("datasets")
    loaded = {}
    for fmt in ("jsonl", "parquet"):
        res = _run(tmp_path / fmt, fmt)
        folder = res.dataset_dir
        by_card = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
        rejected = datasets.load_dataset(str(folder), "rejected", split="train", cache_dir=str(tmp_path / "cache"))
        assert list(by_card) == list(read_dataset(folder)) and len(by_card) == res.kept > 0
        assert len(rejected) == res.rejected and {r["reason"] for r in rejected} == {r["reason"] for r in
                                                                                    read_dataset(folder, rejected=True)}
        loaded[fmt] = list(by_card)
    assert loaded["parquet"] == loaded["jsonl"]


def test_the_dataset_stage_writes_its_stats(fakes, tmp_path):  # noqa: F811
    res = _run(tmp_path / "run", "jsonl")
    stats = read_stats(res.dataset_dir)
    assert stats["rows_in"] == res.kept + res.rejected and stats["rows_out"] == res.kept
    assert sum(stats["dropped"].values()) == res.rejected and "not_equivalent" in stats["dropped"]
    assert stats["seconds"] > 0 and stats["rows_per_s"] > 0
    scored = read_stats(res.scored_dir)
    assert scored["rows_in"] == len(GROUPS) and scored["rows_out"] == res.kept + res.rejected
    again = filter_dataset(tmp_path / "run", quiet=True)  # nothing to do: the stats of the run that did the work stay
    assert read_stats(again.dataset_dir) == stats


@pytest.mark.parametrize("n, bucket", [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (250_000, "100K<n<1M")])
def test_size_category(n, bucket):
    assert size_category(n) == bucket


def test_card_json_still_holds_the_funnel(fakes, tmp_path):  # noqa: F811
    res = _run(tmp_path / "run", "jsonl")
    info = json.loads((res.dataset_dir / "card.json").read_text())
    assert info["kept"] == res.kept and info["teacher"] == "smollm2-135m"
