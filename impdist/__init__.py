"""impdist: Impossible Distillation toolkit.

Turns a small causal LM into a paraphrase / sentence-summarization dataset and a student model.
The lexical hot loops live in the compiled core, exposed as :mod:`impdist.kernels`.
"""
from impdist.errors import ImpdistError, ImpdistWarning

__version__ = "0.1.0"
__all__ = ["ImpdistError", "ImpdistWarning", "__version__"]
