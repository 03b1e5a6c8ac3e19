"""The prompted teacher: its chat-template prompt, reply cleaning, greedy and sampled rewrites (tiny model)."""
from __future__ import annotations

import pytest

from impdist.errors import ImpdistError
from impdist.generate.prompted import INSTRUCTIONS, PromptedTeacher, clean_reply
from tests.tiny_models import tiny_llama_dir

SOURCES = ["the city council voted on tuesday", "police arrested two men", "heavy rain caused flooding across region"]
TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}<s>assistant\n"


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    path = tiny_llama_dir(tmp_path_factory.mktemp("teacher") / "llama")
    return path


def test_the_reply_is_cleaned_of_labels_quotes_and_extra_lines():
    assert clean_reply('\n  Paraphrase: "The men were arrested."\nMore text') == "The men were arrested."
    assert clean_reply("summary: rain flooded the region") == "rain flooded the region"
    assert clean_reply("'quoted'") == "quoted" and clean_reply("") == ""
    assert clean_reply('The sentence can be simplified to: "He does what he wants." This keeps it.') == \
        "He does what he wants."
    assert clean_reply("A more concise version of the sentence would be better.") == ""
    assert clean_reply("The original plan failed.", "Their original plan did not work.") == "The original plan failed."


def test_prompted_teacher_uses_the_chat_template_and_is_deterministic(teacher_dir, monkeypatch):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(teacher_dir)
    tok.chat_template = TEMPLATE
    tok.save_pretrained(teacher_dir)
    teacher = PromptedTeacher(str(teacher_dir), backend="torch", threads=1)
    messages = [{"role": "user", "content": INSTRUCTIONS["paraphrase"].format(text="police arrested two men")}]
    rendered = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert rendered.startswith("<s>user\nParaphrase the following sentence.") and rendered.rstrip().endswith("<s>assistant")
    assert teacher._prompt("police arrested two men", "paraphrase") == tuple(
        tok(rendered, add_special_tokens=False)["input_ids"])
    one = teacher.rewrite(SOURCES, "summary", batch_size=1)
    assert len(one) == 3 and all("\n" not in o for o in one)
    assert teacher.rewrite(SOURCES, "summary", batch_size=3) == one  # batching changes nothing
    with pytest.raises(ImpdistError, match="task must be one of paraphrase, summary"):
        teacher.rewrite(SOURCES, "translate")
    sampled = teacher.generate(SOURCES, task="paraphrase", n=3, sample=True, seed=5, batch_size=2)
    assert [len(s) for s in sampled] == [3, 3, 3]
    assert teacher.generate(SOURCES, task="paraphrase", n=3, sample=True, seed=5, batch_size=9) == sampled
    with pytest.raises(ImpdistError, match="n > 1 needs sample=True"):
        teacher.generate(SOURCES, n=2)


def test_a_model_without_chat_template_gets_the_plain_instruction(teacher_dir):
    from impdist.generate.teacher import load_teacher

    load_teacher.cache_clear()
    teacher = PromptedTeacher(str(teacher_dir), backend="torch", threads=1)
    teacher.teacher.tokenizer.chat_template = None
    plain = INSTRUCTIONS["summary"].format(text="x y") + "\nAnswer:"
    assert teacher._prompt("x y", "summary") == tuple(teacher.teacher.encode(plain))


def test_rewrites_stage_samples_each_source_once_and_resumes(teacher_dir, tmp_path, monkeypatch):
    from impdist.student import rewrites
    from impdist.student.rewrites import PROMPTED, Sampling, sample_rewrites
    from impdist.io import StageDir

    rewrites.load_rewriter.cache_clear()
    sources = [{"src": s, "context_id": f"c{i}"} for i, s in enumerate(SOURCES)]
    sampling = Sampling(samples=3, backend="torch", threads=1)
    stage = sample_rewrites(tmp_path, PROMPTED + str(teacher_dir), sources, "paraphrase", sampling,
                            inputs={"test": 1}, quiet=True)
    rows = list(StageDir(stage.path).iter_rows())
    assert [r["y_orig"] for r in rows] == SOURCES and [r["context_id"] for r in rows] == ["c0", "c1", "c2"]
    assert all(len(r["candidates"]) <= 3 and r["y_orig"] not in r["candidates"] for r in rows)
    assert stage.manifest["config"]["rewriter"] == PROMPTED + str(teacher_dir)
    monkeypatch.setattr(rewrites, "load_rewriter", lambda *a: pytest.fail("sampled again"))
    again = sample_rewrites(tmp_path, PROMPTED + str(teacher_dir), sources, "paraphrase", sampling,
                            inputs={"test": 1}, quiet=True)
    assert again.path == stage.path
    monkeypatch.undo()
    # Fewer sources from the same inputs are another stage, never the larger one's shards.
    fewer = sample_rewrites(tmp_path, PROMPTED + str(teacher_dir), sources[:2], "paraphrase", sampling,
                            inputs={"test": 1}, quiet=True)
    assert fewer.path != stage.path and [r["y_orig"] for r in StageDir(fewer.path).iter_rows()] == SOURCES[:2]
    with pytest.raises(ImpdistError, match="no sources"):
        sample_rewrites(tmp_path, PROMPTED + str(teacher_dir), [], "summary", sampling, inputs={}, quiet=True)


def test_extractive_replies_only_delete_words(teacher_dir):
    from tests.decoding.test_extractive import is_deletion

    teacher = PromptedTeacher(str(teacher_dir), backend="torch", threads=1)
    replies = teacher.generate(SOURCES, task="summary", n=3, sample=True, seed=2, extractive=True)
    assert all(is_deletion(r, s) for s, rs in zip(SOURCES, replies) for r in rs), replies


def test_an_extractive_rewrites_stage_samples_deletions(teacher_dir, tmp_path):
    from impdist.student import rewrites
    from impdist.student.rewrites import PROMPTED, Sampling, sample_rewrites
    from impdist.io import StageDir
    from tests.decoding.test_extractive import is_deletion

    rewrites.load_rewriter.cache_clear()
    sources = [{"src": s, "context_id": f"c{i}"} for i, s in enumerate(SOURCES)]
    sampling = Sampling(samples=3, backend="torch", threads=1, extractive=True)
    stage = sample_rewrites(tmp_path, PROMPTED + str(teacher_dir), sources, "summary", sampling,
                            inputs={"test": 1}, quiet=True)
    rows = list(StageDir(stage.path).iter_rows())
    assert stage.manifest["config"]["sampling"]["extractive"] is True
    assert all(is_deletion(c, r["y_orig"]) for r in rows for c in r["candidates"]), rows
