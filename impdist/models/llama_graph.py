"""A Llama-family decoder written directly as an ONNX graph of ONNX Runtime's fused CPU operators,
instead of tracing transformers' PyTorch code (optimum).

Why: at a decode step of a small model much of the time went to the traced graph's glue, not its
matrix products. optimum's SmolLM2-135M graph has ~4,800 nodes (2,200 after ONNX Runtime's own
fusions), per layer: the rotary embedding as Slice/Neg/Concat/Mul, the causal mask rebuilt from
the attention mask, q/k/v and gate/up as separate MatMuls, the key/value cache concatenated by
Concat nodes. This graph has 14 nodes per layer: SkipSimplifiedLayerNormalization (residual add +
RMSNorm), one MatMul for q|k|v and its Split, RotaryEmbedding on q and on k, GroupQueryAttention
(the cache append, and attention of each query-head group to its shared key/value head), the
output MatMul, the second norm, one MatMul for gate|up and its Split, SiLU (Sigmoid, Mul) times
up, the down MatMul. On SmolLM2-135M int8, 2 threads, it decodes 1.2-1.3x as fast as the traced
graph at batch 1 and 16 (bench/bench_teacher.py; numbers in impdist.models.onnx_export).

The graph keeps optimum's interface, so impdist's OnnxBackend, optimum and ONNX Runtime users load
it unchanged: inputs input_ids, attention_mask (B, past + new), position_ids and
past_key_values.{i}.key / .value (B, kv_heads, past, head_dim); outputs logits and
present.{i}.key / .value. Left padding works as in optimum's graph: every row's cache has the
same length (the mask's), pads are kept out of attention by an additive bias built once from the
attention mask, and rotary positions come from position_ids (GroupQueryAttention's own rotary
would count positions from the cache slot, pads included). GroupQueryAttention takes a block of
several new tokens after a past for batch 1 only; OnnxBackend.extend handles the batched case.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Checkpoints this builder writes exactly; anything else goes through optimum (onnx_export).
_ARCHITECTURES = ("LlamaForCausalLM",)
_MASKED = -1e9  # additive bias on pads: finite, so a query row whose keys are all pads stays finite
# Metadata key telling impdist's OnnxBackend that the graph may append to its cache in place: bound
# to the same buffer, GroupQueryAttention writes the new keys/values after the mask's positions
# instead of copying the whole cache into a new present tensor at every step.
KV_IN_PLACE_KEY = "impdist.kv_in_place"


def supports(config: dict) -> str | None:
    """None if build() writes this checkpoint's graph exactly, else why not (a short reason)."""
    if config.get("architectures") not in ([a] for a in _ARCHITECTURES):
        return f"architecture {config.get('architectures')} (written: {', '.join(_ARCHITECTURES)})"
    rope = config.get("rope_scaling") or {}
    if rope and rope.get("rope_type", rope.get("type")) not in (None, "default"):
        return f"rope scaling {rope}"
    if config.get("attention_bias") or config.get("mlp_bias"):
        return "biases on the attention or MLP projections"
    if config.get("hidden_act", "silu") != "silu":
        return f"activation {config.get('hidden_act')}"
    return _runtime_support()


def _runtime_support() -> str | None:
    """GroupQueryAttention takes an attention_bias input from ONNX Runtime 1.22 on; older ones cannot
    keep left pads out of attention."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as C

        schema = next(s for s in C.get_all_operator_schema()
                      if s.name == "GroupQueryAttention" and s.domain == "com.microsoft")
    except (ImportError, StopIteration, AttributeError):
        return "this ONNX Runtime has no GroupQueryAttention schema"
    if "attention_bias" not in [i.name for i in schema.inputs]:
        return "this ONNX Runtime's GroupQueryAttention has no attention_bias input"
    return None


def build(src: Path):
    """The fp32 decoder graph (an onnx ModelProto) of the checkpoint in src (see supports())."""
    config = json.loads((src / "config.json").read_text())
    # (no onnx.checker: it knows no SimplifiedLayerNormalization, which ONNX Runtime puts in the
    # default domain; loading the graph in ONNX Runtime is the check)
    return _graph(config, _weights(src))


def _weights(src: Path) -> dict[str, np.ndarray]:
    """The checkpoint's fp32 tensors by name (via transformers, which reads every weight format)."""
    import torch
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    weights = {k: v.detach().numpy() for k, v in lm.state_dict().items()}
    if "lm_head.weight" not in weights:  # tied embeddings
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
    return weights


def _rotary_caches(config: dict, head_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of position * inv_freq, (max_positions, head_dim / 2): RotaryEmbedding's caches."""
    theta = float(config.get("rope_theta", 10000.0))
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / head_dim)
    angles = np.outer(np.arange(int(config["max_position_embeddings"]), dtype=np.float32), inv_freq)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _graph(config: dict, w: dict[str, np.ndarray]):
    from onnx import TensorProto, helper, numpy_helper

    layers, hidden = int(config["num_hidden_layers"]), int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    vocab, eps = int(config["vocab_size"]), float(config.get("rms_norm_eps", 1e-6))
    nodes, inits = [], []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.array(array, order="C", copy=not array.flags.c_contiguous), name))
        return name

    def node(op: str, inputs: list[str], outputs: list[str], name: str, domain: str = "", **attrs) -> list[str]:
        nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs

    cos, sin = _rotary_caches(config, head_dim)
    init("cos_cache", cos)
    init("sin_cache", sin)
    for name, value in (("one_i64", np.array([1], np.int64)), ("axes_0", np.array([0], np.int64)),
                        ("axes_12", np.array([1, 2], np.int64)),
                        ("idx_0", np.array(0, np.int64)), ("idx_1", np.array(1, np.int64)),
                        ("masked", np.array(-_MASKED, np.float32)), ("one_f", np.array(1.0, np.float32))):
        init(name, value)

    # Shared by every layer: the cache length, GroupQueryAttention's sequence lengths and the pad bias.
    node("Shape", ["attention_mask"], ["mask_shape"], "mask/Shape")
    node("Gather", ["mask_shape", "idx_1"], ["total_len"], "mask/total_len", axis=0)
    node("Cast", ["total_len"], ["total_len_i32"], "mask/total_len_i32", to=TensorProto.INT32)
    node("Shape", ["input_ids"], ["ids_shape"], "ids/Shape")
    node("Gather", ["ids_shape", "idx_0"], ["batch"], "ids/batch", axis=0)
    node("Gather", ["ids_shape", "idx_1"], ["new_len"], "ids/new_len", axis=0)
    node("Sub", ["total_len", "one_i64"], ["last_index"], "mask/last_index")  # (1,)
    node("Unsqueeze", ["batch", "axes_0"], ["batch_1d"], "ids/batch_1d")
    node("Expand", ["last_index", "batch_1d"], ["seqlens_i64"], "mask/seqlens")
    node("Cast", ["seqlens_i64"], ["seqlens_k"], "mask/seqlens_k", to=TensorProto.INT32)
    node("Cast", ["attention_mask"], ["mask_f"], "mask/float", to=TensorProto.FLOAT)
    node("Sub", ["mask_f", "one_f"], ["mask_off"], "mask/off")  # 0 on tokens, -1 on pads
    node("Mul", ["mask_off", "masked"], ["pad_bias"], "mask/bias")
    node("Unsqueeze", ["pad_bias", "axes_12"], ["pad_bias_4d"], "mask/bias_4d")  # (B, 1, 1, T)
    node("Unsqueeze", ["new_len", "axes_0"], ["new_len_1d"], "ids/new_len_1d")
    node("Unsqueeze", ["total_len", "axes_0"], ["total_len_1d"], "mask/total_len_1d")
    node("Concat", ["batch_1d", "one_i64", "new_len_1d", "total_len_1d"], ["bias_shape"], "mask/bias_shape", axis=0)
    node("Expand", ["pad_bias_4d", "bias_shape"], ["attention_bias"], "mask/bias_expand")  # (B, 1, S, T)

    node("Gather", [init("embed_tokens", w["model.embed_tokens.weight"]), "input_ids"], ["h_0"], "embed", axis=0)
    residual, delta = "h_0", None
    q_size, kv_size = heads * head_dim, kv_heads * head_dim
    for i in range(layers):
        p, n = f"model.layers.{i}.", f"layers.{i}"
        normed = _norm(node, init, residual, delta, w[p + "input_layernorm.weight"], eps, f"{n}/input_norm")
        residual = normed[1] or residual
        wqkv = np.concatenate([w[p + f"self_attn.{x}_proj.weight"] for x in "qkv"], axis=0).T
        node("MatMul", [normed[0], init(f"{n}.qkv_proj", wqkv)], [f"{n}/qkv"], f"{n}/qkv_proj")
        init(f"{n}.qkv_split", np.array([q_size, kv_size, kv_size], np.int64))
        q, k, v = node("Split", [f"{n}/qkv", f"{n}.qkv_split"], [f"{n}/q", f"{n}/k", f"{n}/v"], f"{n}/qkv_split", axis=-1)
        q, k = (node("RotaryEmbedding", [x, "position_ids", "cos_cache", "sin_cache"], [f"{x}_rot"], f"{x}/rotary",
                     domain="com.microsoft", num_heads=h, rotary_embedding_dim=head_dim, interleaved=0)[0]
                for x, h in ((q, heads), (k, kv_heads)))
        node("GroupQueryAttention",
             [q, k, v, f"past_key_values.{i}.key", f"past_key_values.{i}.value", "seqlens_k", "total_len_i32",
              "", "", "", "attention_bias"],
             [f"{n}/attn", f"present.{i}.key", f"present.{i}.value"], f"{n}/attention", domain="com.microsoft",
             num_heads=heads, kv_num_heads=kv_heads, scale=float(head_dim) ** -0.5, do_rotary=0)
        node("MatMul", [f"{n}/attn", init(f"{n}.o_proj", w[p + "self_attn.o_proj.weight"].T)], [f"{n}/o"], f"{n}/o_proj")
        normed = _norm(node, init, residual, f"{n}/o", w[p + "post_attention_layernorm.weight"], eps, f"{n}/post_norm")
        residual = normed[1]
        gate_up = np.concatenate([w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"]], axis=0).T
        node("MatMul", [normed[0], init(f"{n}.gate_up_proj", gate_up)], [f"{n}/gate_up"], f"{n}/gate_up_proj")
        gate, up = node("Split", [f"{n}/gate_up"], [f"{n}/gate", f"{n}/up"], f"{n}/gate_up_split", axis=-1, num_outputs=2)
        node("Sigmoid", [gate], [f"{n}/gate_sigmoid"], f"{n}/silu_sigmoid")
        node("Mul", [gate, f"{n}/gate_sigmoid"], [f"{n}/silu"], f"{n}/silu")
        node("Mul", [f"{n}/silu", up], [f"{n}/mlp_in"], f"{n}/gate_times_up")
        delta = node("MatMul", [f"{n}/mlp_in", init(f"{n}.down_proj", w[p + "mlp.down_proj.weight"].T)],
                     [f"{n}/mlp_out"], f"{n}/down_proj")[0]
    final = _norm(node, init, residual, delta, w["model.norm.weight"], eps, "final_norm")[0]
    node("MatMul", [final, init("lm_head", w["lm_head.weight"].T)], ["logits"], "lm_head")

    def tensor(name: str, dtype, dims: list):
        return helper.make_tensor_value_info(name, dtype, dims)

    cache = ["batch_size", kv_heads, "past_sequence_length", head_dim]
    present = ["batch_size", kv_heads, "total_sequence_length", head_dim]
    inputs = [tensor("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              tensor("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
              tensor("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    outputs = [tensor("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab])]
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append(tensor(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, cache))
            outputs.append(tensor(f"present.{i}.{kind}", TensorProto.FLOAT, present))
    graph = helper.make_graph(nodes, "impdist_llama_decoder", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)],
                              ir_version=9, producer_name="impdist")
    helper.set_model_props(model, {KV_IN_PLACE_KEY: "1"})
    return model


def _norm(node, init, residual: str, delta: str | None, weight: np.ndarray, eps: float, name: str) -> tuple[str, str | None]:
    """RMSNorm of residual (+ delta, the previous block's output); (normed, new residual or None)."""
    gamma = init(name + ".weight", weight)
    if delta is None:
        return node("SimplifiedLayerNormalization", [residual, gamma], [name + "/out"], name, axis=-1, epsilon=eps)[0], None
    out = node("SkipSimplifiedLayerNormalization", [residual, delta, gamma], [name + "/out", "", "", name + "/sum"],
               name, domain="com.microsoft", epsilon=eps)
    return out[0], out[3]
