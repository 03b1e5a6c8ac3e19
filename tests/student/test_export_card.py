"""The export's model card: Hub metadata (base_model, library_name, pipeline_tag, a model-index of
the held-out evaluation with its signatures) that huggingface_hub reads back, above the Markdown."""
from __future__ import annotations

import pytest

from impdist.student.export import model_card

hub = pytest.importorskip("huggingface_hub")

META = {
    "base": "smollm2-135m", "kind": "decoder-only",
    "format": {"length_edges": [0.5, 0.8], "diversity_edges": [0.3, 0.6]},
    "data": {"tasks": {"paraphrase": 30, "summary": 10}, "path": "runs/d", "pairs": 40},
    "training": {"status": "complete", "steps": 30, "planned_steps": 30},
    "evaluation": {"heldout_loss": 2.5, "train_loss": 2.1},
    "export": {"int8": True, "impdist": "0.2.0", "date": "2026-01-01T00:00:00+00:00", "graph": "model.onnx",
               "exporter": "optimum", "runtime": "onnxruntime", "source": "/x/student",
               "quantization": {"bits": 8, "block_size": 128, "accuracy_level": 4},
               "evaluation": {"pairs": 12, "ibleu": 10.5, "bleu": 20.25, "self_bleu": 30.0, "sentences_per_s": 7.5,
                              "decoding": "greedy", "signatures": {"bleu": "bleu|tok:13a|impl:cpu|v:0.2.0"}}},
}


def _card(meta: dict):
    return hub.ModelCard(model_card(meta))


def test_the_card_carries_hub_metadata_and_a_model_index():
    card = _card(META)
    data = card.data
    assert data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert data.library_name == "onnx" and data.pipeline_tag == "text-generation" and data.language == ["en"]
    assert {"impdist", "int8", "paraphrase", "summarization"} <= set(data.tags)
    results = {r.metric_type: r for r in data.eval_results}
    assert set(results) == {"ibleu", "bleu", "self_bleu", "loss"}  # not the speed, not the pair count
    assert results["bleu"].metric_value == 20.25 and results["bleu"].metric_config == "bleu|tok:13a|impl:cpu|v:0.2.0"
    assert results["loss"].metric_value == 2.5 and results["ibleu"].metric_config is None
    assert all(r.dataset_split == "heldout" for r in data.eval_results)
    assert "model-index" in str(card) and card.text.lstrip().startswith("# impdist student (paraphrase (30), summary (10))")


def test_a_local_base_and_no_evaluation_give_a_card_without_either():
    meta = {**META, "base": "/models/my-llama", "evaluation": {},
            "export": {**META["export"], "evaluation": None, "int8": False}}
    data = _card(meta).data
    assert data.base_model is None and data.eval_results is None and "int8" not in data.tags
    assert "model-index" not in model_card(meta)
