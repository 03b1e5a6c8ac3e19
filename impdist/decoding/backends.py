"""DecoderBackend implementations: PyTorch (the fp32 baseline) and ONNX Runtime (fp32 / int8).

Both compute position ids from the attention mask (cumsum - 1), so a left-padded row sees the
same positions as it would alone, and both shrink their KV cache in select() so finished rows
stop costing compute. The ONNX backend keeps the cache inside ONNX Runtime between steps (IO
binding): each step's present.* outputs are bound as the next step's past inputs, and only the
logits come back to numpy. On a graph that appends to its cache in place (impdist.models.llama_graph)
past and present are one buffer per tensor, with room for the next steps, so a step copies no cache
and keeps its binding from the step before (it binds only its token, mask and positions).
"""
from __future__ import annotations

import ctypes
import inspect

import numpy as np

from impdist.decoding.backend import DecoderBackend
from impdist.decoding.runtime import (BACKENDS, Backend, BackendError, check_backend, default_threads,
                                      set_torch_threads)
from impdist.models.graph_passes import LOGITS_POSITIONS
from impdist.models.llama_graph import KV_IN_PLACE_KEY
from impdist.decoding.tokenizer import load_tokenizer
from impdist.models.names import load_causal_lm, onnx_load_error, onnx_model_dir
from impdist.models.onnx_export import ONNX_FILE

__all__ = ["BackendError", "TorchBackend", "OnnxBackend", "make_backend", "positions_from_mask",
           "BACKENDS"]

_LOGIT_FLOATS = 1 << 25  # log_likelihoods: rows per forward chosen so logits stay under 128 MiB
_KV_ROOM = 64  # positions an in-place cache has free after a prefill (it doubles when full)


def torch_device(device: str, threads: int | None):
    """Set torch's intra-op threads (set_torch_threads) and return the torch device."""
    import torch  # the torch backends only: ONNX Runtime runs without it

    set_torch_threads(threads, device)
    return torch.device(device)


def positions_from_mask(attention_mask: np.ndarray) -> np.ndarray:
    """Position ids of a padded batch: cumsum(mask) - 1 on real tokens, 0 on left pads."""
    return np.maximum(np.cumsum(attention_mask, axis=1) - 1, 0).astype(np.int64)


def _check_batch(input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.ascontiguousarray(input_ids, dtype=np.int64)
    mask = np.ascontiguousarray(attention_mask, dtype=np.int64)
    if ids.ndim != 2 or ids.shape != mask.shape or ids.shape[1] == 0:
        raise ValueError(f"input_ids and attention_mask must be equal non-empty (B, T) arrays, "
                         f"got {input_ids.shape} and {attention_mask.shape}")
    return ids, mask


def _mask_ll(logp: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[:, 1:] != 0, logp, 0.0).astype(np.float32)


class TorchBackend(DecoderBackend):
    """Hugging Face causal LM in fp32 under torch.inference_mode, with its DynamicCache."""

    name = "torch"

    def __init__(self, model: str, *, device: str = "cpu", threads: int | None = None,
                 trust_remote_code: bool = False) -> None:
        import torch  # torch and transformers load with the first torch backend only

        self._torch = torch
        self.device = torch_device(device, threads)
        self.model, self.tokenizer = load_causal_lm(model, trust_remote_code=trust_remote_code,
                                                    device=device)
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        params = inspect.signature(self.model.forward).parameters
        # Only the last position's logits are needed after prefill; skip the rest of lm_head.
        self._keep = next((p for p in ("logits_to_keep", "num_logits_to_keep") if p in params), None)
        self._cache = self._mask = self._pos = None

    def _forward(self, ids, mask, pos, cache, last_only: bool):
        kwargs = {self._keep: 1} if last_only and self._keep else {}
        with self._torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                             past_key_values=cache, use_cache=cache is not None, **kwargs)
        return out

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Start a batch from LEFT-padded prompts; returns (B, V) next-token logits."""
        from transformers import DynamicCache

        ids, mask = _check_batch(input_ids, attention_mask)
        pos = positions_from_mask(mask)
        t = self._torch
        self._mask = t.from_numpy(mask).to(self.device)
        out = self._forward(t.from_numpy(ids).to(self.device), self._mask,
                            t.from_numpy(pos).to(self.device), DynamicCache(), last_only=True)
        self._cache = out.past_key_values
        self._pos = t.from_numpy(pos[:, -1:] + 1).to(self.device)
        return out.logits[:, -1].float().cpu().numpy()

    def extend(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Append a LEFT-padded block of tokens per row; returns (B, V) next-token logits."""
        if self._cache is None:
            raise RuntimeError("extend() before prefill()")
        ids, mask = _check_batch(input_ids, attention_mask)
        t = self._torch
        block = t.from_numpy(mask).to(self.device)
        pos = self._pos + t.from_numpy(np.maximum(np.cumsum(mask, axis=1) - 1, 0)).to(self.device)
        self._mask = t.cat([self._mask, block], dim=1)
        out = self._forward(t.from_numpy(ids).to(self.device), self._mask, pos, self._cache, last_only=True)
        self._cache = out.past_key_values
        self._pos = self._pos + block.sum(dim=1, keepdim=True)
        return out.logits[:, -1].float().cpu().numpy()

    def select(self, rows: np.ndarray) -> None:
        """Keep only these batch rows of the cache, in this order."""
        index = self._torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.device)
        self._cache.reorder_cache(index)  # index_select on every layer's keys and values
        self._mask = self._mask.index_select(0, index)
        self._pos = self._pos.index_select(0, index)

    def log_likelihoods(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(B, T-1) log p(token t | tokens < t) of RIGHT-padded rows; 0 where masked."""
        ids, mask = _check_batch(input_ids, attention_mask)
        pos = positions_from_mask(mask)
        t = self._torch
        out = []
        step = max(1, _LOGIT_FLOATS // (ids.shape[1] * self.vocab_size))
        for i in range(0, len(ids), step):
            chunk = [t.from_numpy(a[i : i + step]).to(self.device) for a in (ids, mask, pos)]
            logits = self._forward(*chunk, cache=None, last_only=False).logits[:, :-1].float()
            with t.inference_mode():
                logp = t.log_softmax(logits, dim=-1).gather(-1, chunk[0][:, 1:, None])[..., 0]
            out.append(logp.cpu().numpy())
        return _mask_ll(np.concatenate(out), mask)


class OnnxBackend(DecoderBackend):
    """ONNX Runtime session over the exported KV-cache graph (impdist.models.onnx_model_dir).

    spinning: let idle intra-op threads spin between steps (ORT's default). Measured at batch
    16 / 1 on 2 cores: int8 468 / 86 tok/s with it, 408 / 71 without; turn it off only when
    other work shares the cores.
    """

    def __init__(self, model: str, *, int8: bool = False, device: str = "cpu", threads: int | None = None,
                 trust_remote_code: bool = False, spinning: bool = True) -> None:
        import onnxruntime as ort

        self.name = "onnx-int8" if int8 else "onnx"
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendError(f"device={device!r} needs ONNX Runtime's CUDA build: "
                                   "pip uninstall onnxruntime && pip install onnxruntime-gpu "
                                   "(or use device='cpu')")
            device_id = int(device.partition(":")[2] or 0)
            providers = [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"]
            self._device = ("cuda", device_id)
        elif device == "cpu":
            providers, self._device = ["CPUExecutionProvider"], ("cpu", 0)
        else:
            raise BackendError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
        self._ort = ort
        path = onnx_model_dir(model, int8=int8, trust_remote_code=trust_remote_code)
        self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
        try:
            self.session = ort.InferenceSession(str(path / ONNX_FILE), _session_options(threads, spinning),
                                                providers=providers)
        except Exception as e:  # noqa: BLE001 - ORT raises its own classes (InvalidProtobuf, Fail, NoSuchFile...)
            raise onnx_load_error(path / ONNX_FILE, e) from None
        inputs = {i.name: i for i in self.session.get_inputs()}
        self._past = sorted((n for n in inputs if n.startswith("past_key_values.")), key=_layer_order)
        self._present = [n.replace("past_key_values.", "present.", 1) for n in self._past]
        self._has_pos = "position_ids" in inputs
        self._choose_positions = LOGITS_POSITIONS in {i.name for i in self.session.get_overridable_initializers()}
        first = inputs[self._past[0]]
        self._kv_heads, self._head_dim = int(first.shape[1]), int(first.shape[3])
        self._kv_dtype = np.float16 if first.type == "tensor(float16)" else np.float32
        self.vocab_size = int(self.session.get_outputs()[0].shape[-1])
        # A graph whose attention appends to its cache in place (impdist.models.llama_graph) gets
        # one buffer per cache tensor, bound as both past and present: no copy of the cache per step.
        meta = self.session.get_modelmeta().custom_metadata_map
        self._in_place = meta.get(KV_IN_PLACE_KEY) == "1" and self._device[0] == "cpu"
        # Its attention takes a block after a past for one row at a time (_extend_rows).
        self.extends_blocks = not self._in_place
        self._kv: list = []
        # In-place graphs, one-token steps: a binding of the cache buffers (past = present) and of
        # a logits buffer, kept from step to step; only the token, mask and positions are bound
        # anew. Rebuilt whenever the buffers change (prefill, growth, select).
        self._step_binding = None
        self._step_logits: np.ndarray | None = None
        self._mask = self._pos = None

    def _ortvalue(self, array: np.ndarray):
        return self._ort.OrtValue.ortvalue_from_numpy(array, *self._device)

    def _run(self, ids: np.ndarray, mask: np.ndarray, pos: np.ndarray, past: list, all_logits: bool = False,
             in_place: bool = False) -> list:
        """One forward; logits of the last position only, unless all_logits (on a graph that can
        choose, see impdist.models.graph_passes.logits_at_positions; older graphs give every position).
        in_place: the past buffers are the present outputs too (the graph appends into them)."""
        binding = self.session.io_binding()
        if all_logits and self._choose_positions:
            binding.bind_ortvalue_input(LOGITS_POSITIONS, self._ortvalue(np.arange(ids.shape[1], dtype=np.int64)))
        self._bind_tokens(binding, ids, mask, pos)
        binding.bind_output("logits", self._device[0], self._device[1])  # first: outputs come back in binding order
        self._bind_cache(binding, past, in_place)
        self.session.run_with_iobinding(binding)
        return binding.get_outputs()

    def _bind_tokens(self, binding, ids: np.ndarray, mask: np.ndarray, pos: np.ndarray) -> None:
        """Bind a forward's token ids, attention mask and (on a graph that takes them) positions."""
        binding.bind_ortvalue_input("input_ids", self._ortvalue(ids))
        binding.bind_ortvalue_input("attention_mask", self._ortvalue(mask))
        if self._has_pos:
            binding.bind_ortvalue_input("position_ids", self._ortvalue(pos))

    def _bind_cache(self, binding, past: list, in_place: bool) -> None:
        """Bind the past caches, and the present outputs: the same buffers if in_place (the graph
        appends into them), else tensors ONNX Runtime allocates, which stay on the device as the
        next step's past."""
        for past_name, present_name, value in zip(self._past, self._present, past):
            binding.bind_ortvalue_input(past_name, value)
            if in_place:
                binding.bind_ortvalue_output(present_name, value)
            else:
                binding.bind_output(present_name, self._device[0], self._device[1])

    def _buffers(self, kv: list, length: int) -> list:
        """Copies of the caches kv in buffers `length` positions long (the rest zeros), for in-place
        appends; the graph reads each row's first mask-length positions only."""
        out = []
        for value in kv:
            cache = _host_view(value)
            buffer = np.zeros((*cache.shape[:2], length, cache.shape[3]), dtype=cache.dtype)
            buffer[:, :, : cache.shape[2]] = cache
            out.append(self._ortvalue(buffer))
        return out

    def _empty_past(self, batch: int) -> list:
        empty = np.zeros((batch, self._kv_heads, 0, self._head_dim), dtype=self._kv_dtype)
        return [self._ortvalue(empty)] * len(self._past)

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Start a batch from LEFT-padded prompts; returns (B, V) next-token logits."""
        ids, mask = _check_batch(input_ids, attention_mask)
        pos = positions_from_mask(mask)
        outputs = self._run(ids, mask, pos, self._empty_past(len(ids)))
        self._kv, self._mask, self._pos = outputs[1:], mask, pos[:, -1:] + 1
        self._step_binding = None
        if self._in_place:
            self._kv = self._buffers(self._kv, ids.shape[1] + _KV_ROOM)
        return _last_logits(outputs[0])

    def extend(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Append a LEFT-padded block of tokens per row; returns (B, V) next-token logits."""
        if self._mask is None:
            raise RuntimeError("extend() before prefill()")
        ids, mask = _check_batch(input_ids, attention_mask)
        pos = self._pos + np.maximum(np.cumsum(mask, axis=1) - 1, 0)
        self._mask = np.concatenate([self._mask, mask], axis=1)
        if self._in_place:
            if self._mask.shape[1] > self._kv[0].shape()[2]:  # full: move to buffers twice as long
                self._kv = self._buffers(self._kv, 2 * self._mask.shape[1])
                self._step_binding = None
            logits = self._bound_step(ids, pos) if ids.shape[1] == 1 else self._extend_rows(ids, pos)
        else:
            outputs = self._run(ids, self._mask, pos, self._kv)
            self._kv, logits = outputs[1:], _last_logits(outputs[0])
        self._pos = self._pos + mask.sum(axis=1, keepdims=True)
        return logits

    def _bound_step(self, ids: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """One token per row on an in-place graph through the kept binding: a step binds three
        small inputs instead of every cache tensor twice and reads logits from a buffer of its own
        (a step spent 1.6 of its 18.4 ms outside ONNX Runtime at batch 1 on 2 cores, mostly on those
        binds; experiments/decode-profile.py)."""
        if self._step_binding is None:
            binding = self.session.io_binding()
            self._bind_cache(binding, self._kv, in_place=True)
            self._step_logits = np.empty((len(ids), 1, self.vocab_size), dtype=np.float32)
            binding.bind_ortvalue_output("logits", self._ortvalue(self._step_logits))  # shares its memory
            self._step_binding = binding
        self._bind_tokens(self._step_binding, ids, self._mask, pos)
        self.session.run_with_iobinding(self._step_binding)
        return self._step_logits[:, -1].copy()

    def _extend_rows(self, ids: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """A block of several tokens per row on an in-place graph, one row at a time:
        GroupQueryAttention takes a block after a past for batch 1 only. Each row runs on views of
        its own slice of the batch's buffers, so its keys and values land where a batched forward
        would put them; a prompt prefix the batch shares is then computed once, not per row
        (SmolLM2's chat template: 48 of a prompt's ~80 tokens)."""
        logits = np.empty((len(ids), self.vocab_size), dtype=np.float32)
        for r in range(len(ids)):
            rows = [self._ortvalue(_host_view(value)[r : r + 1]) for value in self._kv]
            out = self._run(ids[r : r + 1], self._mask[r : r + 1], pos[r : r + 1], rows, in_place=True)
            logits[r] = _last_logits(out[0])[0]
        return logits

    def select(self, rows: np.ndarray) -> None:
        """Keep only these batch rows of the cache, in this order (one gather copy per tensor)."""
        rows = np.asarray(rows, dtype=np.int64)
        self._step_binding = None
        self._kv = [self._ortvalue(np.ascontiguousarray(_host_view(v)[rows])) for v in self._kv]
        self._mask, self._pos = self._mask[rows], self._pos[rows]

    def log_likelihoods(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(B, T-1) log p(token t | tokens < t) of RIGHT-padded rows; 0 where masked."""
        ids, mask = _check_batch(input_ids, attention_mask)
        pos = positions_from_mask(mask)
        out = []
        step = max(1, _LOGIT_FLOATS // (ids.shape[1] * self.vocab_size))
        for i in range(0, len(ids), step):
            rows = slice(i, i + step)
            logits = self._run(ids[rows], mask[rows], pos[rows], self._empty_past(len(ids[rows])), all_logits=True)[0]
            logits = logits.numpy()[:, :-1].astype(np.float64)  # float64: exact log-softmax on CPU
            logits -= logits.max(axis=-1, keepdims=True)
            logz = np.log(np.exp(logits).sum(axis=-1))
            target = np.take_along_axis(logits, ids[rows, 1:, None], axis=-1)[..., 0]
            out.append(target - logz)
        return _mask_ll(np.concatenate(out), mask)


def _layer_order(name: str) -> tuple[int, str]:
    _, layer, kind = name.rsplit(".", 2)
    return int(layer), kind


def _last_logits(logits) -> np.ndarray:
    """(B, V) float32 copy of the last position's logits of a (B, T, V) OrtValue (read through a
    view, so the other positions are not copied)."""
    return np.array(_host_view(logits)[:, -1], dtype=np.float32)


def _host_view(value) -> np.ndarray:
    """A numpy view of a CPU OrtValue without copying it (a copy for device tensors)."""
    if value.device_name().lower() != "cpu":
        return value.numpy()
    shape = value.shape()
    dtype = np.float16 if value.data_type() == "tensor(float16)" else np.float32
    count = int(np.prod(shape))
    if count == 0:
        return np.zeros(shape, dtype)
    buffer = (ctypes.c_byte * (count * np.dtype(dtype).itemsize)).from_address(value.data_ptr())
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _session_options(threads: int | None, spinning: bool):
    # One model run at a time, each spread over all cores; ORT_ENABLE_ALL adds the CPU-layout
    # and contrib-op fusions (SimplifiedLayerNormalization, MatMulNBits pre-packing) at load.
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only: ORT warns at every load that logits_positions can be fed
    return options


def make_backend(model: str, backend: Backend = "torch", device: str = "cpu",
                 threads: int | None = None, *, trust_remote_code: bool = False) -> DecoderBackend:
    """A DecoderBackend for model (any impdist.models argument), exporting ONNX on first use."""
    if check_backend(backend) == "torch":
        return TorchBackend(model, device=device, threads=threads, trust_remote_code=trust_remote_code)
    return OnnxBackend(model, int8=backend == "onnx-int8", device=device, threads=threads,
                       trust_remote_code=trust_remote_code)
