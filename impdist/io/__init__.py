"""Storage layer of every stage: reading user input, atomic shard files, manifests, executors.

A stage is a pure function from a payload (an input shard) to rows; `open_stage` gives its run
directory, `run_shards` runs it over the shards that are not done yet, and `latest_stage` /
`fingerprint` let the next stage find and pin what it reads.
"""
from impdist.io.executors.local import run_shards
from impdist.io.records import (FORMATS, MAX_LINE_BYTES, ShardInfo, read_jsonl, read_jsonl_numbered, read_rows,
                                read_texts, write_rows)
from impdist.io.stage import StageDir, canonical_json, fingerprint, latest_stage, open_stage

__all__ = [
    "FORMATS", "MAX_LINE_BYTES", "ShardInfo", "StageDir", "canonical_json", "fingerprint",
    "latest_stage", "open_stage", "read_jsonl", "read_jsonl_numbered", "read_rows", "read_texts", "run_shards",
    "write_rows",
]
