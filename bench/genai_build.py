"""Run onnxruntime-genai's model builder (`python -m onnxruntime_genai.models.builder`) under the
transformers this project pins. Used by bench/peers.py, in a subprocess of its own.

onnxruntime-genai 0.18's builder imports classes of transformers 5 (Qwen3.5, ...) that only its
other architectures use, and reads `config.rope_parameters`, the transformers 5 name of what
transformers 4 calls `rope_scaling` / `rope_theta`. So this script gives those imports stand-ins
and the config its transformers 5 spelling, then runs the builder with the arguments it was given.
A Llama-family checkpoint (SmolLM2, the students) needs nothing else.
"""
from __future__ import annotations

import runpy
import sys

# Names the builder imports from transformers at load time; a name transformers has stays real.
_NAMES = ("AutoConfig", "AutoModelForCausalLM", "AutoModelForSpeechSeq2Seq", "AutoTokenizer", "GenerationConfig",
          "Qwen2ForCausalLM", "Gemma3ForConditionalGeneration", "Lfm2VlForConditionalGeneration",
          "Mistral3ForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration",
          "Qwen3VLForConditionalGeneration", "Qwen3_5ForConditionalGeneration",
          "Qwen3_5MoeForConditionalGeneration")


def _patch_transformers() -> None:
    import transformers  # noqa: F401 - its lazy module replaces itself in sys.modules on first use
    del transformers  # read it from sys.modules from here on
    for name in _NAMES:  # touch the real ones first: that is what swaps the module
        try:
            getattr(sys.modules["transformers"], name)
        except (AttributeError, ImportError):
            pass
    module = sys.modules["transformers"]
    for name in _NAMES:
        try:
            getattr(module, name)
        except (AttributeError, ImportError):
            setattr(module, name, type(name, (), {}))
    original = module.AutoConfig.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        out = original(cls, *args, **kwargs)
        config = out[0] if isinstance(out, tuple) else out
        if getattr(config, "rope_scaling", 0) is None:
            del config.rope_scaling
        if not hasattr(config, "rope_parameters"):
            config.rope_parameters = {"rope_type": "default", "rope_theta": getattr(config, "rope_theta", 10000.0)}
        return out

    module.AutoConfig.from_pretrained = classmethod(from_pretrained)


if __name__ == "__main__":
    _patch_transformers()
    sys.argv = ["onnxruntime_genai.models.builder", *sys.argv[1:]]
    runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__")
