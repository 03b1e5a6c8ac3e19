"""impdist.models.graph_passes keep the exported graph's meaning: each rewritten graph gives the raw
optimum export's logits and caches on random inputs with left padding and a past, and the
grouped attention pass leaves no per-head copy of the cache behind."""
from __future__ import annotations

import json

import numpy as np
import pytest

from impdist.models import graph_passes
from impdist.models.onnx_export import ONNX_FILE, _quiet, save_onnx
from tests.tiny_models import tiny_llama_dir


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """optimum's export of the tiny Llama (4 query heads sharing 2 KV heads), no passes applied."""
    from optimum.exporters.onnx import main_export

    root = tmp_path_factory.mktemp("passes")
    src = tiny_llama_dir(root / "llama")
    out = root / "raw"
    with _quiet():
        main_export(str(src), out, task="text-generation-with-past", do_validation=False, local_files_only=True)
    return out, json.loads((src / "config.json").read_text())


def run(path, feed: dict) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    known = {i.name for i in [*session.get_inputs(), *session.get_overridable_initializers()]}
    return dict(zip(names, session.run(None, {k: v for k, v in feed.items() if k in known})))


def random_feed(seed: int, batch: int, new: int, past: int, layers: int = 2) -> dict[str, np.ndarray]:
    """Left-padded ids after a past of `past` positions; the first row is padded for 3 positions."""
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, past + new), dtype=np.int64)
    mask[0, : min(3, past + new - 1)] = 0
    feed = {"input_ids": rng.integers(3, 300, (batch, new)), "attention_mask": mask,
            "position_ids": np.clip(np.cumsum(mask, 1) - 1, 0, None)[:, past:]}
    for i in range(layers):
        for kind in ("key", "value"):
            feed[f"past_key_values.{i}.{kind}"] = rng.standard_normal((batch, 2, past, 16)).astype(np.float32)
    return feed


def rewritten(raw, tmp_path, *passes) -> tuple:
    import onnx

    folder, config = raw
    model = onnx.load(str(folder / ONNX_FILE))
    changed = [p(model, config) if p is graph_passes.grouped_query_attention else p(model) for p in passes]
    path = tmp_path / ONNX_FILE
    save_onnx(model, path)
    return path, model, changed


@pytest.mark.parametrize("batch,new,past", [(1, 1, 0), (3, 5, 0), (4, 1, 9), (2, 6, 4)])
def test_grouped_attention_gives_the_raw_graphs_outputs(raw, tmp_path, batch, new, past):
    path, model, (layers,) = rewritten(raw, tmp_path, graph_passes.grouped_query_attention)
    assert layers == 2
    feed = random_feed(batch * 100 + new * 10 + past, batch, new, past)
    before, after = run(raw[0] / ONNX_FILE, feed), run(path, feed)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_grouped_attention_leaves_no_copy_of_the_cache(raw, tmp_path):
    import onnx

    raw_model = onnx.load(str(raw[0] / ONNX_FILE))
    assert sum(n.op_type == "Expand" for n in raw_model.graph.node) > 2  # repeat_kv, per layer, plus the mask's
    _, model, _ = rewritten(raw, tmp_path, graph_passes.grouped_query_attention)
    readers = {i: n.op_type for n in model.graph.node for i in n.input if i.startswith("present.")}
    assert set(readers.values()) <= {"Transpose", "MatMul", "Shape"}, readers
    assert not any(n.op_type == "Expand" and "self_attn" in n.name for n in model.graph.node)
    assert len(model.graph.node) < len(raw_model.graph.node)


def test_grouped_attention_skips_models_without_shared_heads(raw):
    import onnx

    model = onnx.load(str(raw[0] / ONNX_FILE))
    nodes = len(model.graph.node)
    assert graph_passes.grouped_query_attention(model, {**raw[1], "num_key_value_heads": 4}) == 0
    assert graph_passes.grouped_query_attention(model, {}) == 0
    assert len(model.graph.node) == nodes


def test_every_pass_together_keeps_the_last_positions_logits(raw, tmp_path):
    import onnx

    folder, config = raw
    model = onnx.load(str(folder / ONNX_FILE))
    changed = graph_passes.apply_all(model, config)
    assert changed == {"constant_transposes": 0, "logits_positions": 1, "grouped_attention_layers": 2}
    assert graph_passes.apply_all(model, config) == {"constant_transposes": 0, "logits_positions": 0,
                                                     "grouped_attention_layers": 0}  # idempotent
    save_onnx(model, tmp_path / ONNX_FILE)
    feed = random_feed(7, 3, 4, 2)
    before, after = run(folder / ONNX_FILE, feed), run(tmp_path / ONNX_FILE, feed)
    np.testing.assert_allclose(after["logits"][:, 0], before["logits"][:, -1], rtol=1e-4, atol=1e-4)
    every = run(tmp_path / ONNX_FILE, {**feed, "logits_positions": np.arange(4)})
    np.testing.assert_allclose(every["logits"], before["logits"], rtol=1e-4, atol=1e-4)
