"""impdist.decoding.tokenizer: FastTokenizer (tokenizers alone, for the serving install) gives the
ids, texts and special tokens transformers gives for the same folder."""
from __future__ import annotations

import json
import shutil

import pytest

from impdist.decoding import tokenizer as tokenizer_module
from impdist.decoding.tokenizer import FastTokenizer, load_tokenizer
from impdist.errors import ImpdistError
from impdist.models.names import load_tokenizer as transformers_tokenizer
from tests.judges.test_equivalence import tiny_bert_dir
from tests.tiny_models import tiny_llama_dir

SENTENCES = ["the city council voted on tuesday .", "police arrested two men , they said it 's done !",
             "Héllo wörld don't stop ?", "<task: paraphrase>\nInput: rain fell\nOutput:", " leading space", ""]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenizers")
    llama = tiny_llama_dir(root / "llama")  # byte-level BPE, no pad token: pad = eos
    cleaned = shutil.copytree(llama, root / "cleaned")  # decode cleans up spaces before punctuation
    config = json.loads((cleaned / "tokenizer_config.json").read_text())
    (cleaned / "tokenizer_config.json").write_text(json.dumps({**config, "clean_up_tokenization_spaces": True}))
    return {"llama": llama, "cleaned": cleaned, "bert": tiny_bert_dir(root / "bert"),  # WordPiece, [CLS] ... [SEP]
            "padded": tiny_llama_dir(root / "padded", with_pad=True)}


@pytest.mark.parametrize("name", ["llama", "cleaned", "bert", "padded"])
def test_fast_tokenizer_gives_what_transformers_gives(folders, name):
    ours, theirs = FastTokenizer(folders[name]), transformers_tokenizer(folders[name])
    assert len(ours) == len(theirs)
    assert (ours.eos_token_id, ours.pad_token_id) == (theirs.eos_token_id, theirs.pad_token_id)
    for text in SENTENCES:
        for special in (True, False):
            assert ours(text, add_special_tokens=special)["input_ids"] == \
                theirs(text, add_special_tokens=special)["input_ids"], (text, special)
    singles = [[i] for i in range(len(theirs))]
    assert ours.batch_decode(singles) == theirs.batch_decode(singles)
    for text in SENTENCES:
        ids = theirs(text)["input_ids"] + [theirs.eos_token_id or 0]
        for skip in (True, False):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)


def test_without_transformers_the_folder_is_read_with_tokenizers(folders, monkeypatch):
    assert type(load_tokenizer(folders["llama"])).__name__ != "FastTokenizer"
    monkeypatch.setattr(tokenizer_module, "has_transformers", lambda: False)
    assert isinstance(load_tokenizer(folders["llama"]), FastTokenizer)


def test_a_folder_without_tokenizer_json_names_the_fix(folders, tmp_path):
    folder = shutil.copytree(folders["llama"], tmp_path / "slow")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ImpdistError, match=r"no tokenizer.json.*pip install 'impdist\[models\]'"):
        FastTokenizer(folder)
