"""Tiny randomly initialised models built from configs (never downloaded), for fast model tests."""
from __future__ import annotations

from pathlib import Path

WORDS = ("the a city council voted on tuesday to approve new budget shares of company fell "
         "sharply after scientists announced that they had discovered president said in statement "
         "government would heavy rain caused flooding across region forcing police arrested two men").split()


def tiny_llama_dir(path: Path, *, seed: int = 0, with_pad: bool = False) -> Path:
    """A 2-layer Llama (hidden 64, 4 heads / 2 KV heads, vocab 300) with a BPE tokenizer, saved to path.

    Weights use a large init range so logits are well separated and greedy choices are stable
    across runtimes. The tokenizer has no pad token unless with_pad (impdist must set pad = eos).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()  # as in GPT-2/SmolLM2: ids decode back to the text
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))], trainer)
    extra = {"pad_token": "</s>"} if with_pad else {}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", **extra)
    config = LlamaConfig(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=2, initializer_range=0.2, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
