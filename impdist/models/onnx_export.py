"""Builders of derived model artefacts: GGUF -> fp32 HF directory, HF -> ONNX with KV cache, int8.

Each builder writes into an empty directory it is given; impdist.models decides where (the
cache) and when (once per source and options). They are slow (seconds to a minute) by nature.
"""
from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

from impdist.logs import root_handlers_kept
from impdist.models import graph_passes, llama_graph

ONNX_FILE = "model.onnx"
# Files the ONNX directories carry beside the graph, so they are self-contained for loading.
_SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt",
               "added_tokens.json", "chat_template.jinja")
_EXTERNAL_DATA = ONNX_FILE + "_data"
_TWO_GB = 2**31 - 2**26  # protobuf's limit, with room for the graph itself


def gguf_to_hf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF checkpoint to an fp32 Hugging Face directory (weights + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    _fix_gguf_tokenizer(tokenizer, gguf)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _fix_gguf_tokenizer(tokenizer, gguf: Path) -> None:
    """Take special tokens and BOS handling from the GGUF's metadata, which transformers' GGUF
    converter does not always carry over (SmolLM2: eos came back as <|im_start|>, BOS added)."""
    from gguf import GGUFReader

    fields = GGUFReader(gguf).fields

    def scalar(key: str):
        field = fields.get(key)
        return None if field is None or not field.data else field.parts[field.data[0]][0].item()

    for attr, key in (("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"),
                      ("pad_token", "padding_token_id"), ("unk_token", "unknown_token_id")):
        token_id = scalar(f"tokenizer.ggml.{key}")
        if token_id is not None and 0 <= token_id < len(tokenizer):
            setattr(tokenizer, attr, tokenizer.convert_ids_to_tokens(int(token_id)))
    add_bos = scalar("tokenizer.ggml.add_bos_token")
    if add_bos is not None and hasattr(tokenizer, "add_bos_token"):
        tokenizer.add_bos_token = bool(add_bos)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def export_onnx(src: Path, out: Path, *, trust_remote_code: bool = False) -> None:
    """Export a causal-LM directory to ONNX with KV cache: a Llama-family checkpoint as the fused
    graph of impdist.models.llama_graph, any other through optimum (text-generation-with-past).

    The graph's inputs are input_ids, attention_mask, position_ids and past_key_values.{i}.key /
    .value; its outputs logits and present.{i}.key / .value.
    """
    config = json.loads((src / "config.json").read_text()) if (src / "config.json").is_file() else {}
    if llama_graph.supports(config) is None:  # written directly from fused ONNX Runtime operators
        with _quiet():
            save_onnx(llama_graph.build(src), out / ONNX_FILE)
    else:
        from optimum.exporters.onnx import main_export

        with _quiet():
            main_export(str(src), out, task="text-generation-with-past", do_validation=False,
                        trust_remote_code=trust_remote_code, local_files_only=True)
    for name in _SIDE_FILES:  # the exporter copies most of these; make sure all that exist are here
        if (src / name).exists() and not (out / name).exists():
            shutil.copy2(src / name, out / name)
    optimize_graph(out)


def optimize_graph(folder: Path) -> dict[str, int]:
    """Apply impdist.models.graph_passes to folder's model.onnx, in place; what each pass changed."""
    import json

    import onnx

    path = folder / ONNX_FILE
    model = onnx.load(str(path))
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else {}
    changed = graph_passes.apply_all(model, config)
    save_onnx(model, path)
    return changed


def save_onnx(model, path: Path) -> None:
    """Save a ModelProto, with weights in one external file when it is over protobuf's 2 GB."""
    import onnx

    (path.parent / _EXTERNAL_DATA).unlink(missing_ok=True)
    big = model.ByteSize() > _TWO_GB
    onnx.save_model(model, str(path), save_as_external_data=big, all_tensors_to_one_file=True,
                    location=_EXTERNAL_DATA)


# Int8 scheme, measured on SmolLM2-135M, 2-core Zen4 with AVX-512 VNNI (LL = mean log-likelihood
# of 8 MRPC sentences, relative to fp32; speed = greedy decode tok/s at batch 16 / batch 1):
#   quantize_dynamic, every MatMul: LL 12-14% worse in each variant (per-tensor, per-channel,
#     reduce_range, Gather in or out). The culprit is mlp.down_proj: its input silu(gate)*up has
#     outliers that per-tensor uint8 activation quantization crushes (quantizing down_proj alone
#     costs 12.5%; all other MatMuls together 0.14%).
#   quantize_dynamic without down_proj: per-channel LL 0.14%, 465 / 70 tok/s; per-tensor 3.3%;
#     per-channel + reduce_range 1.8% (7-bit weights only help CPUs without VNNI: not this one).
#   MatMulNBits 8-bit weights, blocks of 32 along K, symmetric, accuracy_level 4 (activations
#     quantized per block to int8, VNNI dot products), every MatMul incl. lm_head: LL 0.1-0.3%,
#     447-468 / 85 tok/s. Block 128: LL 0.4%, about as fast. accuracy_level 0 (fp32 compute on
#     dequantized weights): 27 tok/s, unusable. fp32 for reference: 375 / 40 tok/s.
# So int8 = MatMulNBits(8 bits, symmetric, accuracy_level 4): the best LL, as fast as the best
# quantize_dynamic variant at batch 16 and 20% faster at batch 1, and no fp32 MatMul left.
# Block size, re-measured on the make-run student after graph_passes (96 MRPC sentences, batch 32,
# the variants interleaved in one process, best of 5): blocks of 128 decode 14-16% faster than
# blocks of 32 (fewer per-block int32 -> float rescalings in the VNNI kernel), 256 no faster;
# 4-bit weights were slower than 8-bit at both sizes.
# Gather (the embedding) stays fp32: a step reads B rows of it, so int8 would save disk, not time.
# Fidelity, measured on the fused Llama graph (impdist.models.llama_graph) as teacher-forced top-1
# agreement with fp32 over ~2,000 tokens (experiments/int8-blocks-probe.py, the reference sequences of
# bench/bench_teacher.py and bench/bench_student.py; 2-core AMD EPYC, AVX2 without VNNI, 2026-12-07):
#                                          teacher  student   (ORT GenAI int8, blocks of 32: 0.953 / 0.972)
#   blocks of 128, mlp.down_proj 32         0.924    0.938    (the scheme before: fast on VNNI)
#   128, down_proj 32, lm_head 32                    0.939
#   128, down_proj 32, qkv_proj 32                   0.949
#   128, down_proj 16                                0.952
#   128, qkv_proj / o_proj / down_proj 16            0.966
#   blocks of 32 everywhere                 0.948    0.971
#   16 everywhere but lm_head (128)                  0.973
#   blocks of 16 everywhere                 0.961    0.980
# Smaller blocks help every projection, so one block size serves all. On this AVX2 CPU the size
# hardly changes speed (student, batch 1 / 16 / 64: 66 / 219 / 249 tok/s in blocks of 16 against 66 /
# 235 / 254 for the scheme before); on the Zen4 VNNI CPU above blocks of 16 decoded 0.73x / 0.87x /
# 0.89x as fast as GenAI int8 where the scheme before was 0.91x / 1.33x / 1.30x. Fidelity first:
# blocks of 16 are the only scheme at or above GenAI int8's agreement for both models.
INT8_SCHEME = {"method": "matmulnbits", "bits": 8, "block_size": 16, "symmetric": True, "accuracy_level": 4}


def quantize_int8(src: Path, out: Path) -> None:
    """Write an int8 copy of the ONNX directory src into out: every constant-weight MatMul as
    MatMulNBits (scheme: INT8_SCHEME)."""
    import onnx

    model = _matmul_nbits(onnx.load(str(src / ONNX_FILE)), INT8_SCHEME["block_size"])
    save_onnx(model, out / ONNX_FILE)
    for p in src.iterdir():
        if p.name not in (ONNX_FILE, _EXTERNAL_DATA) and p.is_file():
            shutil.copy2(p, out / p.name)


def _matmul_nbits(model, block_size: int, exclude: Sequence[str] = ()):
    """model with its constant-weight MatMuls (but those named in exclude) as MatMulNBits."""
    with root_handlers_kept():  # the quantizer calls logging.basicConfig when imported
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        model, bits=INT8_SCHEME["bits"], block_size=block_size, is_symmetric=INT8_SCHEME["symmetric"],
        accuracy_level=INT8_SCHEME["accuracy_level"], op_types_to_quantize=("MatMul",), nodes_to_exclude=list(exclude))
    with _quiet():
        quantizer.process()
    return quantizer.model.model


class _quiet:
    """Silence the exporters' progress warnings and INFO logs (they are not the user's business)."""

    def __enter__(self) -> None:
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        self._level = logging.root.manager.disable
        logging.disable(logging.WARNING)

    def __exit__(self, *exc) -> None:
        logging.disable(self._level)
        self._warnings.__exit__(*exc)
