"""The one place impdist's version is written (pyproject.toml reads it, so do signatures and cards)."""
__version__ = "0.2.0"
