"""Rewrites of optimum's exported decoder graph that make it faster under ONNX Runtime while
keeping its inputs, outputs and meaning, so plain optimum / onnxruntime still load it.

Each pass takes and changes an onnx.ModelProto in place; impdist.models.onnx_export applies them all once,
when the fp32 graph is built (the int8 graph is quantized from it and inherits them).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

LOGITS_POSITIONS = "logits_positions"


def apply_all(model, config: dict) -> dict[str, int]:
    """Run every pass on `model` (config: the model's config.json); what each changed."""
    return {"constant_transposes": fold_constant_transposes(model),
            "logits_positions": logits_at_positions(model),
            "grouped_attention_layers": grouped_query_attention(model, config)}


def fold_constant_transposes(model) -> int:
    """Replace Transpose(initializer) by a transposed initializer; the number folded.

    Tied embeddings export as lm_head = MatMul(h, Transpose(embed)); the quantizers only touch a
    MatMul whose weight is a constant, so without this the largest matrix stays fp32.
    """
    from onnx import numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    folded = 0
    for node in list(graph.node):
        if node.op_type != "Transpose" or node.input[0] not in inits:
            continue
        array = numpy_helper.to_array(inits[node.input[0]])
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(np.transpose(array, _perm(node))),
                                                         node.output[0]))
        graph.node.remove(node)
        folded += 1
    return folded


def logits_at_positions(model) -> int:
    """Compute logits only at the sequence positions in `logits_positions` (default [-1], the last).

    A prefill needs the last position's logits only; the lm_head over every prompt token was a
    fifth of its multiply-adds and wrote B x T x V floats. The positions are an initializer that is
    also a graph input, so a caller may override it (log-likelihoods pass every position) while
    plain optimum/onnxruntime, which do not feed it, get the last position: all generate() reads.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    if any(i.name == LOGITS_POSITIONS for i in graph.input):
        return 0
    head = next(n for n in graph.node if "logits" in n.output)
    hidden = head.input[0]
    graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), LOGITS_POSITIONS))
    graph.input.append(helper.make_tensor_value_info(LOGITS_POSITIONS, TensorProto.INT64, ["logits_positions"]))
    picked = hidden + "_at_logits_positions"
    graph.node.insert(list(graph.node).index(head),
                      helper.make_node("Gather", [hidden, LOGITS_POSITIONS], [picked], axis=1, name="logits_positions"))
    head.input[0] = picked
    logits = next(o for o in graph.output if o.name == "logits")
    logits.type.tensor_type.shape.dim[1].dim_param = "logits_positions"
    return 1


def grouped_query_attention(model, config: dict) -> int:
    """Attend each group of query heads to its shared key/value head instead of copying the cache
    once per query head; the number of layers rewritten (0 when the graph has no such copy).

    transformers' repeat_kv exports as Unsqueeze -> Expand -> Reshape of present.{i}.key/value: at
    every step each layer copied its whole cache num_heads / num_kv_heads times (SmolLM2: 3x), then
    transposed and scaled the copied keys; about an eighth of an int8 decode on 2 cores. Here the
    queries are reshaped instead, (B, H, S, D) -> (B, Hkv, H/Hkv * S, D), which is free, and the
    key scale moves onto them. A layer whose subgraph differs from the expected shape is left as
    it is.
    """
    heads = int(config.get("num_attention_heads") or 0)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    if not heads or kv_heads == heads:
        return 0
    graph = model.graph
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    consts = _constants(model)
    rewritten = 0
    for out in graph.output:
        if not (out.name.startswith("present.") and out.name.endswith(".key")):
            continue
        key, value = out.name, out.name[: -len("key")] + "value"
        k_path = _repeated(key, consumers, ["Unsqueeze", "Expand", "Reshape", "Transpose", "Mul", "MatMul"])
        v_path = _repeated(value, consumers, ["Unsqueeze", "Expand", "Reshape", "MatMul"])
        if k_path is None or v_path is None:
            continue
        transpose, scale_mul, scores = k_path[3], k_path[4], k_path[5]
        probs_matmul = v_path[3]
        scale = next((i for i in scale_mul.input if i != transpose.output[0]), None)
        readers = [_shape_readers(n.output[0], consumers, consts) for n in (*k_path[:3], *v_path[:3])]
        if (scores.input[1] != scale_mul.output[0] or probs_matmul.input[1] != v_path[2].output[0]
                or _perm(transpose) != [0, 1, 3, 2] or scale not in consts or consts[scale].size != 1
                or any(r is None for r in readers) or any(readers[:2]) or any(readers[3:5])):
            continue
        for shape_node in readers[2]:  # (B, H, T, D) and (B, Hkv, T, D) agree but on dimension 1
            shape_node.input[0] = key
        for shape_node in readers[5]:
            shape_node.input[0] = value
        _rewire_layer(graph, key, value, scale, scores, probs_matmul, heads, kv_heads)
        rewritten += 1
    if rewritten:
        _drop_dead_nodes(graph)
    return rewritten


def _rewire_layer(graph, key: str, value: str, scale: str, scores, probs_matmul, heads: int, kv_heads: int) -> None:
    """scores = MatMul(Q, K'^T) and out = MatMul(P, V') with K', V' the repeated caches become
    grouped MatMuls on the caches themselves."""
    from onnx import helper, numpy_helper

    prefix = key.replace(".", "_") + "_grouped"

    def shape(name: str, dims: list[int]) -> str:
        graph.initializer.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), f"{prefix}_shape_{name}"))
        return f"{prefix}_shape_{name}"

    grouped, per_head = shape("grouped", [0, kv_heads, -1, 0]), shape("heads", [0, heads, -1, 0])
    q = scores.input[0]
    new = [
        helper.make_node("Mul", [q, scale], [prefix + "_q_scaled"]),
        helper.make_node("Reshape", [prefix + "_q_scaled", grouped], [prefix + "_q"]),
        helper.make_node("Transpose", [key], [prefix + "_kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", [prefix + "_q", prefix + "_kt"], [prefix + "_scores"]),
        helper.make_node("Reshape", [prefix + "_scores", per_head], [scores.output[0]]),
        helper.make_node("Reshape", [probs_matmul.input[0], grouped], [prefix + "_p"]),
        helper.make_node("MatMul", [prefix + "_p", value], [prefix + "_out"]),
        helper.make_node("Reshape", [prefix + "_out", per_head], [probs_matmul.output[0]]),
    ]
    for n, node in enumerate(new):
        node.name = f"{prefix}/{n}_{node.op_type}"
    # In topological order: the score nodes where the scores were made, the rest where P @ V was.
    _replace_node(graph, scores, new[:5])
    _replace_node(graph, probs_matmul, new[5:])


def _replace_node(graph, old, new: list) -> None:
    """Put the nodes `new`, in order, where `old` stood in the graph's node list."""
    at = list(graph.node).index(old)
    graph.node.remove(old)
    for k, node in enumerate(new):
        graph.node.insert(at + k, node)


def _repeated(name: str, consumers: dict, ops: list[str]):
    """The chain of consumers of `name` with the given op types, each the only consumer of the
    one before except for Shape nodes (the mask's length is read off the repeated keys); None
    when the graph does not have that shape."""
    chain, current = [], name
    for op in ops:
        nxt = [n for n in consumers.get(current, []) if n.op_type == op]
        if len(nxt) != 1:
            return None
        chain.append(nxt[0])
        current = nxt[0].output[0]
        if op != ops[-1] and len([n for n in consumers.get(current, []) if n.op_type != "Shape"]) != 1:
            return None
    return chain


def _shape_readers(name: str, consumers: dict, consts: dict) -> list | None:
    """The Shape nodes reading `name`, if each only feeds Gathers of a dimension other than 1
    (the heads, the one dimension the repeat changes); None otherwise."""
    shapes = [n for n in consumers.get(name, []) if n.op_type == "Shape"]
    for node in shapes:
        gathers = consumers.get(node.output[0], [])
        if not gathers or any(g.op_type != "Gather" or g.input[1] not in consts
                              or int(consts[g.input[1]]) in (1, -3) for g in gathers):
            return None
    return shapes


def _perm(node) -> list[int] | None:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


def _constants(model) -> dict[str, np.ndarray]:
    """Values of the initializers and Constant nodes (small ones: what a pattern needs to read)."""
    from onnx import numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if np.prod(t.dims) <= 16}
    for node in model.graph.node:
        if node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None:
                out[node.output[0]] = numpy_helper.to_array(value.t)
    return out


def _drop_dead_nodes(graph) -> None:
    """Remove nodes none of whose outputs reach a graph output, and the initializers left unused."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    unused = [t for t in graph.initializer if t.name not in needed]
    for t in unused:
        graph.initializer.remove(t)

