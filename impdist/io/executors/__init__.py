"""Who runs a stage's shards: a local process pool (local.py) or Ray actors (ray.py)."""
