"""A DecoderBackend over an encoder-decoder (T5-style) student, so it decodes through the same loop
(impdist.decoding.decode) as the decoder-only ones: the prompt is the encoder's input, prefill
encodes it and takes the decoder's first step, step() and select() go on as for a causal LM."""
from __future__ import annotations

import numpy as np

from impdist.decoding.backends import torch_device
from impdist.models.names import hf_model_dir, load_tokenizer


class Seq2SeqTorchBackend:
    """Hugging Face encoder-decoder in fp32 with its EncoderDecoderCache."""

    name = "torch"

    def __init__(self, model: str, *, device: str = "cpu", threads: int | None = None,
                 trust_remote_code: bool = False) -> None:
        import torch  # torch and transformers load with the first seq2seq student only
        from transformers import AutoModelForSeq2SeqLM

        self._torch = torch
        self.device = torch_device(device, threads)
        path = hf_model_dir(model, role="any")
        self.model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=torch.float32,
                                                           trust_remote_code=trust_remote_code).to(device).eval()
        self.tokenizer = load_tokenizer(path, trust_remote_code=trust_remote_code)
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        start = self.model.config.decoder_start_token_id
        self._start = int(start if start is not None else self.model.config.pad_token_id)
        self._encoded = self._mask = self._cache = None

    def _decode(self, ids) -> np.ndarray:
        from transformers.modeling_outputs import BaseModelOutput

        with self._torch.inference_mode():
            out = self.model(encoder_outputs=BaseModelOutput(last_hidden_state=self._encoded),
                             attention_mask=self._mask, decoder_input_ids=ids, past_key_values=self._cache,
                             use_cache=True)
        self._cache = out.past_key_values
        return out.logits[:, -1].float().cpu().numpy()

    def prefill(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Encode the (left-padded) prompts; returns the logits of each output's first token."""
        from transformers import DynamicCache, EncoderDecoderCache

        t = self._torch
        ids = t.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)).to(self.device)
        self._mask = t.from_numpy(np.ascontiguousarray(attention_mask, dtype=np.int64)).to(self.device)
        with t.inference_mode():
            self._encoded = self.model.get_encoder()(input_ids=ids, attention_mask=self._mask).last_hidden_state
        self._cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        start = t.full((len(ids), 1), self._start, dtype=t.long, device=self.device)
        return self._decode(start)

    def step(self, next_ids: np.ndarray) -> np.ndarray:
        """Append one output token per row; returns (B, V) next-token logits."""
        if self._cache is None:
            raise RuntimeError("step() before prefill()")
        ids = self._torch.from_numpy(np.ascontiguousarray(next_ids, dtype=np.int64).reshape(-1, 1)).to(self.device)
        return self._decode(ids)

    def select(self, rows: np.ndarray) -> None:
        """Keep only these batch rows (encoder states, mask and both caches), in this order."""
        index = self._torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.device)
        self._cache.reorder_cache(index)
        self._encoded = self._encoded.index_select(0, index)
        self._mask = self._mask.index_select(0, index)

    def log_likelihoods(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Not defined for an encoder-decoder (there is no single sequence to score)."""
        raise NotImplementedError("log_likelihoods needs a decoder-only model")
