"""The teacher asked to rewrite: an instruct LM prompted, through its chat template, to paraphrase
or shorten a sentence. It is a baseline (what a user would do without a student) and a source of
candidates the filter chain can judge (`impdist run`'s rewrite step), like a student's samples."""
from __future__ import annotations

from typing import Sequence

from impdist.decoding.decode import DecodeJob, decode_by_length
from impdist.decoding.extractive import Extractive
from impdist.decoding.runtime import BATCH_BACKEND
from impdist.decoding.sampling import SamplingConfig
from impdist.errors import ImpdistError
from impdist.generate.teacher import load_teacher
from impdist.models.embedded import DEFAULT_TEACHER
from impdist.tasks import check_task

INSTRUCTIONS = {
    "paraphrase": "Paraphrase the following sentence. Keep its meaning; use different words. "
                  "Reply with the paraphrase only.\n\n{text}",
    "summary": "Shorten the following sentence: keep its main point in fewer words. "
               "Reply with the short sentence only.\n\n{text}",
}
MAX_NEW_TOKENS = 96


class PromptedTeacher:
    """A causal LM given a plain instruction per sentence; one line of reply per output.

    A model without a chat template gets the instruction as plain text followed by "Answer:"."""

    def __init__(self, model: str = DEFAULT_TEACHER, *, backend: str = BATCH_BACKEND, device: str = "cpu",
                 threads: int | None = None, trust_remote_code: bool = False) -> None:
        self.model = model
        self.teacher = load_teacher(model, backend, device, threads, trust_remote_code)

    def _prompt(self, text: str, task: str) -> tuple[int, ...]:
        tok = self.teacher.tokenizer
        instruction = INSTRUCTIONS[task].format(text=text)
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template([{"role": "user", "content": instruction}], add_generation_prompt=True,
                                          tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # BatchEncoding in newer transformers
                ids = ids["input_ids"]
            return tuple(int(i) for i in ids)
        return tuple(self.teacher.encode(f"{instruction}\nAnswer:"))

    def generate(self, texts: Sequence[str], *, task: str = "paraphrase", n: int = 1, sample: bool = False,
                 temperature: float = 0.7, top_p: float = 0.9, seed: int = 0, batch_size: int = 32,
                 extractive: bool = False) -> list[list[str]]:
        """n replies per text, in input order: greedy, or sampled (top-p, temperature) with one
        random stream per output, so results do not depend on batch_size. extractive=True keeps
        each reply a deletion of its text (impdist.decoding.extractive)."""
        check_task(task)
        if n < 1 or (n > 1 and not sample):
            raise ImpdistError(f"n must be >= 1, and n > 1 needs sample=True; got n={n}, sample={sample}")
        t = self.teacher
        cfg = SamplingConfig(temperature=temperature, top_p=top_p, greedy=not sample)
        newlines = frozenset(t.newline_ids)
        limits = [Extractive.for_text(t.tokenizer, s, t.eos_ids | newlines) if extractive else None for s in texts]
        jobs = [DecodeJob(self._prompt(s, task), key=i * n + k, constraint=limits[i])
                for i, s in enumerate(texts) for k in range(n)]
        generated = decode_by_length(  # one line: a line break after some text ends the reply
            t.backend, jobs, cfg, seed=seed, max_new_tokens=lambda _: MAX_NEW_TOKENS,
            eos_ids=t.eos_ids, pad_id=t.pad_id, batch_size=batch_size,
            stop=lambda st: st.generated[-1] in newlines and len(st.generated) > 1)
        replies = [clean_reply(t.decode(ids), texts[j // n]) for j, ids in enumerate(generated)]
        return [replies[i * n : (i + 1) * n] for i in range(len(texts))]

    def rewrite(self, sources: Sequence[str], task: str = "paraphrase", *, batch_size: int = 32,
                extractive: bool = False) -> list[str]:
        """One greedy reply per source, in order."""
        return [o[0] for o in self.generate(sources, task=task, batch_size=batch_size, extractive=extractive)]


# Words of a reply that talks about the task instead of doing it ("The sentence can be simplified
# to ..."); such a reply is dropped unless its source uses the word too.
_META = ("sentence", "paraphras", "rephras", "shorten", "concise", "rewrit", "original", "summar")
_LABELS = ("Paraphrase:", "Paraphrased sentence:", "Summary:", "Short sentence:", "Shortened sentence:", "Answer:")


def clean_reply(reply: str, source: str = "") -> str:
    """The reply's first non-empty line without the label or quotes an instruct model adds; a
    quoted rewrite after a colon is taken out of its comment; "" for a reply about the task."""
    line = next((ln.strip() for ln in reply.splitlines() if ln.strip()), "")
    for label in _LABELS:
        if line.lower().startswith(label.lower()):
            line = line[len(label):].strip()
    head, colon, tail = line.partition(":")
    tail = tail.strip()
    if colon and tail[:1] in "\"'" and tail[:1] and tail.find(tail[0], 1) > 1:
        line = tail[1 : tail.find(tail[0], 1)].strip()  # `... simplified to: "X." This keeps ...` -> X.
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'":
        line = line[1:-1].strip()
    low, src = line.lower(), source.lower()
    if any(word in low and word not in src for word in _META):
        return ""
    return line
