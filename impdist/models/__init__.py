"""Models: the ones shipped in pip packages and the defaults (embedded.py), resolving every model
argument (names.py: an embedded name, a local folder or a hub id), converting them (onnx_export.py:
ONNX with a KV cache, int8) and the rewrites of the exported graphs (graph_passes.py). Converted
artefacts live in the artefact cache (impdist.io.cache). Import from the module that defines a
name: `from impdist.models.names import resolve`."""
