"""Semantic-equivalence judges: sentence embeddings (embed.py), the embedding / NLI / paraphrase
judges (equivalence.py), labelled pair files and their held-out split (labelled.py), training a
cross-encoder judge (train.py) and calibrating any judge on labelled pairs (calibrate.py)."""
