"""impdist.models.llama_graph writes the decoder optimum would export, in fused ONNX Runtime
operators: the same logits and caches on random inputs with left padding and a past, the same
interface, far fewer nodes; and it leaves checkpoints it does not write exactly to optimum."""
from __future__ import annotations

import json

import numpy as np
import pytest

from impdist.models import graph_passes, llama_graph
from impdist.models.onnx_export import ONNX_FILE, _quiet, export_onnx
from tests.models.test_graph_passes import random_feed, run
from tests.tiny_models import tiny_llama_dir


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """(optimum's raw export, impdist's export) of the tiny Llama (4 query heads, 2 KV heads)."""
    from optimum.exporters.onnx import main_export

    root = tmp_path_factory.mktemp("llama_graph")
    src = tiny_llama_dir(root / "llama")
    with _quiet():
        main_export(str(src), root / "raw", task="text-generation-with-past", do_validation=False,
                    local_files_only=True)
    (root / "ours").mkdir()
    export_onnx(src, root / "ours")
    return root / "raw" / ONNX_FILE, root / "ours" / ONNX_FILE


# (GroupQueryAttention takes a block of several tokens after a past for batch 1 only; OnnxBackend
# runs a batch's whole sequences instead: tests/decoding/test_backends.py)
@pytest.mark.parametrize("batch,new,past", [(1, 1, 0), (3, 5, 0), (4, 1, 9), (1, 6, 4), (2, 1, 30)])
def test_same_logits_and_caches_as_optimums_export(graphs, batch, new, past):
    feed = random_feed(batch * 100 + new * 10 + past, batch, new, past)
    feed["logits_positions"] = np.arange(new)  # every position (optimum's raw graph gives them all)
    before, after = run(graphs[0], feed), run(graphs[1], feed)
    assert before.keys() == after.keys()
    mask = feed["attention_mask"]
    # What a pad position computes is never read (its logits, its keys and values past the first
    # layer) and differs: pads attend to nothing here, to the other pads in optimum's graph.
    for name in before:
        keep = mask[:, -new:] != 0 if name == "logits" else mask != 0
        a, b = (np.moveaxis(x, 2, 1) if name != "logits" else x for x in (after[name], before[name]))
        np.testing.assert_allclose(a[keep], b[keep], rtol=1e-4, atol=1e-4, err_msg=name)


def test_a_fused_graph_with_optimums_interface(graphs):
    import onnx

    raw, ours = (onnx.load(str(p)) for p in graphs)
    assert [i.name for i in ours.graph.input] == [i.name for i in raw.graph.input] + [graph_passes.LOGITS_POSITIONS]
    assert [o.name for o in ours.graph.output] == [o.name for o in raw.graph.output]
    ops = [n.op_type for n in ours.graph.node]
    assert ops.count("GroupQueryAttention") == 2 and ops.count("MatMul") == 2 * 4 + 1
    assert len(ops) < len(raw.graph.node) / 4


def test_the_last_position_by_default(graphs):
    feed = random_feed(7, 3, 5, 0)
    last = run(graphs[1], feed)["logits"]
    every = run(graphs[1], {**feed, "logits_positions": np.arange(5)})["logits"]
    assert last.shape == (3, 1, 300)
    np.testing.assert_allclose(last[:, 0], every[:, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("change,reason", [
    ({"architectures": ["MistralForCausalLM"]}, "architecture"),
    ({"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "rope scaling"),
    ({"attention_bias": True}, "biases"),
    ({"hidden_act": "gelu"}, "activation"),
])
def test_other_checkpoints_go_through_optimum(tmp_path, change, reason):
    config = json.loads((tiny_llama_dir(tmp_path / "llama") / "config.json").read_text())
    assert llama_graph.supports(config) is None
    assert reason in llama_graph.supports({**config, **change})
