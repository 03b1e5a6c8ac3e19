"""impdist: Impossible Distillation toolkit.

Turns a small causal LM into a paraphrase / sentence-summarization dataset and a student model.
The lexical hot loops live in the compiled core, exposed as :mod:`impdist.kernels`.
"""
from impdist._version import __version__
from impdist.errors import ImpdistError, ImpdistWarning

__all__ = ["ImpdistError", "ImpdistWarning", "Paraphraser", "__version__"]


def __getattr__(name: str):
    """impdist.Paraphraser, imported on first use (it brings the decoding runtime; an export needs
    ONNX Runtime and tokenizers only, a torch backend loads torch when a student is loaded)."""
    if name == "Paraphraser":
        from impdist.student.serve import Paraphraser
        return Paraphraser
    raise AttributeError(f"module 'impdist' has no attribute {name!r}")
