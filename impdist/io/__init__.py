"""Storage layer of every stage: reading user input (readers), atomic shard and output files
(writers), durable writes, directory publishing and file locks (atomic), stage directories
(stage) with their manifests (manifest) and one writer each (locks), and the size-limited
artefact cache (cache).

A stage is a pure function from a payload (an input shard) to rows; `open_stage` gives its run
directory, `impdist.io.executors.run_shards` runs it over the shards that are not done yet (the
executors are the layer above this one), and `latest_stage` / `fingerprint` let the next stage
find and pin what it reads.
"""
from impdist.io.readers import MAX_LINE_BYTES, read_jsonl, read_jsonl_numbered, read_lines, read_rows, read_texts
from impdist.io.stage import StageDir, canonical_json, fingerprint, latest_stage, open_stage
from impdist.io.writers import FORMATS, ShardInfo, open_output, write_rows

__all__ = [
    "FORMATS", "MAX_LINE_BYTES", "ShardInfo", "StageDir", "canonical_json", "fingerprint", "latest_stage",
    "open_output", "open_stage", "read_jsonl", "read_jsonl_numbered", "read_lines", "read_rows", "read_texts",
    "write_rows",
]
