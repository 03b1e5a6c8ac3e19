"""impdist.judges.bert_numpy: the torch-free encoder gives the rows impdist.judges.embed.Embedder
gives (every pooling mode, padding, the embedded MiniLM), so best_of picks alike in both installs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from impdist.errors import ImpdistError
from impdist.judges.bert_numpy import NumpyEmbedder, _erf, read_safetensors
from impdist.judges.embed import Embedder
from tests.judges.test_equivalence import tiny_bert_dir

TEXTS = ["the city council voted on tuesday to approve new budget", "rain", "shares of company fell sharply.",
         "police arrested two men", "", "the president said in statement that government would " * 8]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_bert_dir(tmp_path_factory.mktemp("bert-numpy") / "encoder")


@pytest.mark.parametrize("modes", [None, ("cls_token",), ("max_tokens",), ("mean_sqrt_len_tokens",),
                                   ("mean_tokens", "max_tokens")])
def test_rows_equal_the_torch_embedders_in_every_pooling_mode(encoder, tmp_path, modes):
    folder = encoder
    if modes is not None:
        folder = shutil.copytree(encoder, tmp_path / "pooled")
        (folder / "1_Pooling").mkdir()
        config = {f"pooling_mode_{m}": m in modes for m in ("cls_token", "max_tokens", "mean_tokens",
                                                            "mean_sqrt_len_tokens")}
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    ours = NumpyEmbedder(str(folder), batch_size=4).embed(TEXTS)
    theirs = Embedder(str(folder)).embed(TEXTS)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 2e-5


def test_the_embedded_minilm_matches_too():
    try:
        ours = NumpyEmbedder("minilm-l6").embed(TEXTS)
    except ImpdistError as e:
        pytest.skip(f"the embedded MiniLM is not installed: {e}")
    assert np.abs(ours - Embedder("minilm-l6").embed(TEXTS)).max() < 1e-5


def test_empty_input_and_erf(encoder):
    embedder = NumpyEmbedder(str(encoder))
    assert embedder.embed([]).shape == (0, embedder.dim)
    from math import erf

    xs = np.linspace(-6, 6, 241)
    assert np.abs(_erf(xs) - np.array([erf(x) for x in xs])).max() < 2e-7


def test_bf16_weights_read_as_their_float32_values(tmp_path):
    values = np.array([1.0, -2.5, 0.15625], dtype=np.float32)  # exact in bfloat16
    raw = (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, len(raw)]}}).encode()
    (tmp_path / "w.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + raw)
    assert read_safetensors(tmp_path / "w.safetensors")["w"].tolist() == values.tolist()


def test_a_non_bert_model_is_refused_with_the_install_that_runs_it(tmp_path, encoder):
    folder = shutil.copytree(encoder, tmp_path / "other")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ImpdistError, match=r"pip install 'impdist\[models\]'"):
        NumpyEmbedder(str(folder))
