"""Serving a student: `Paraphraser.load(DIR).paraphrase(texts)`, batched through the teacher's
decode loop (impdist.decoding.decode) on any DecoderBackend: torch fp32, ONNX Runtime fp32 or
int8 (KV cache kept inside the runtime), so every backend gets the same fast loop and sampling.

DIR is a student written by `impdist train` (any backend; ONNX graphs are exported into the
impdist cache on first use) or by `impdist export` (its own graph, fp32 or int8). An export needs
neither torch nor transformers (`pip install 'impdist[serve]'`): ONNX Runtime runs the graph, the
`tokenizers` library reads its tokenizer.json, and best_of's embedder runs in numpy.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from impdist.errors import ImpdistError, MalformedInputError, MissingExtraError
from impdist.extras import install_hint
from impdist.decoding.backends import make_backend
from impdist.decoding.runtime import SERVING_BACKEND, check_backend
from impdist.decoding.decode import DecodeJob, decode_by_length
from impdist.decoding.extractive import Extractive
from impdist.decoding.sampling import SamplingConfig, newline_token_ids
from impdist.decoding.seq2seq import Seq2SeqTorchBackend
from impdist.decoding.tokenizer import has_transformers, load_tokenizer
from impdist.filters.informativeness import most_informative
from impdist.io import open_output, read_lines
from impdist.io.readers import parse_json_object
from impdist.judges import embed
from impdist.judges.bert_numpy import load_numpy_embedder
from impdist.models.embedded import DEFAULT_EMBEDDER
from impdist.student.codes import EvalControls, check_texts
from impdist.student.data import prompt_ids
from impdist.student.errors import StudentError, TextTooLongError
from impdist.student.meta import prompt_format, read_meta

MAX_NEW_TOKENS = 256  # most tokens of one output, whatever the input
# Sampling when none is asked for: (temperature, top_p) of plain sampling, and of the candidates
# best_of chooses from, which gain from variety: on held-out Google items (250-449) the best of
# 16 extractive summaries scored ROUGE-L 68.6 sampled at 1.0 / 0.95 and 65.6 at 0.7 / 0.9 (with
# the greedy summary among them or not: 68.6 either way).
SAMPLING = (0.7, 0.9)
BEST_OF_SAMPLING = (1.0, 0.95)


class Paraphraser:
    """A loaded student: rewrites batches of sentences under control codes."""

    def __init__(self, path: Path, backend, tokenizer, meta: dict) -> None:
        self.path, self.backend, self.tokenizer, self.meta = path, backend, tokenizer, meta
        self.format = prompt_format(meta)
        self.decoder_only = meta["kind"] == "decoder-only"
        eos = tokenizer.eos_token_id
        self._eos = frozenset([eos] if eos is not None else [])
        self._pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0))
        self._newlines: frozenset[int] | None = None
        self._positions = _max_positions(path) if self.decoder_only else None

    @classmethod
    def load(cls, path: str | os.PathLike, backend: str | None = None, device: str = "cpu", *,
             threads: int | None = None, trust_remote_code: bool = False) -> Paraphraser:
        """Load a student directory. backend: "torch", "onnx" or "onnx-int8"; None picks the
        graph of an exported directory, or SERVING_BACKEND (int8) for a trained one."""
        path = Path(path)
        meta = read_meta(path)
        exported = meta.get("export")
        if exported is not None:
            own = "onnx-int8" if exported.get("int8") else "onnx"
            backend = backend or own
            if backend != own:
                trained = meta.get("export", {}).get("source", "the folder `impdist train` wrote")
                raise StudentError(f"{path} holds an {own} export only; load it with backend={own!r}, or load "
                                   f"the trained student ({trained}) to run it with {backend!r}")
        backend = backend or SERVING_BACKEND
        check_backend(backend)
        if exported is None and not has_transformers():  # a trained student needs torch, even to export it
            raise MissingExtraError(f"{path} is a trained student, which needs torch and transformers to run or to "
                                    f"export: {install_hint('models')}; or serve its ONNX export (impdist export)")
        if meta["kind"] == "encoder-decoder":
            if backend != "torch":
                raise StudentError(f"{path} is an encoder-decoder student, which impdist serves with "
                                   "backend='torch' only (its ONNX export is not supported yet)")
            runtime = Seq2SeqTorchBackend(str(path), device=device, threads=threads,
                                          trust_remote_code=trust_remote_code)
        else:
            runtime = make_backend(str(path), backend, device=device, threads=threads,
                                   trust_remote_code=trust_remote_code)
        tokenizer = getattr(runtime, "tokenizer", None) or load_tokenizer(path, trust_remote_code=trust_remote_code)
        return cls(path, runtime, tokenizer, meta)

    def _stop_ids(self) -> frozenset[int]:
        if self._newlines is None:  # an output is one line: a line break ends it
            self._newlines = frozenset(newline_token_ids(self.tokenizer))
        return self._newlines

    def generate(
        self,
        texts: Sequence[str],
        *,
        task: str = "paraphrase",
        n: int = 1,
        compression: float | str | None = None,
        diversity: float | str | None = None,
        exemplar: str | None = None,
        extractive: bool = False,
        sample: bool | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int = 0,
        batch_size: int = 32,
        max_new_tokens: int | None = None,
        best_of: int = 1,
        embedder: str = DEFAULT_EMBEDDER,
        stream_keys: Sequence[int] | None = None,
    ) -> list[list[str]]:
        """n outputs per text, in input order. Greedy when n == 1 unless sample=True; sampling
        (top-p, temperature; default SAMPLING) otherwise, each output with its own random stream,
        so results do not depend on batch_size. extractive=True keeps each output a deletion of
        its text: whole words of it, in order (impdist.decoding.extractive). best_of > 1 (summaries, n == 1):
        best_of samples compete, and the one that keeps the most meaning for its length under
        `embedder` is returned (impdist.filters.informativeness); they are sampled with
        BEST_OF_SAMPLING unless temperature or top_p is given. stream_keys[i] keys text i's random
        streams (default i), so texts of several requests decoded together (impdist serve) sample
        what each request would alone."""
        texts = check_texts(texts)
        keys = range(len(texts)) if stream_keys is None else list(stream_keys)
        if len(keys) != len(texts):
            raise StudentError(f"stream_keys must hold one key per text, got {len(keys)} for {len(texts)} texts")
        if n < 1 or batch_size < 1 or best_of < 1:
            raise StudentError(f"n, batch_size and best_of must be >= 1, got n={n}, batch_size={batch_size}, "
                               f"best_of={best_of}")
        if best_of > 1:
            return self._best_of(texts, best_of, embedder, task=task, n=n, compression=compression,
                                 diversity=diversity, exemplar=exemplar, extractive=extractive, sample=sample,
                                 temperature=temperature, top_p=top_p, seed=seed, batch_size=batch_size,
                                 max_new_tokens=max_new_tokens, stream_keys=keys)
        greedy = (n == 1) if sample is None else not sample
        if greedy and n > 1:
            raise StudentError(f"n={n} greedy outputs would all be the same; pass sample=True")
        try:
            cfg = SamplingConfig(temperature=SAMPLING[0] if temperature is None else temperature,
                                 top_p=SAMPLING[1] if top_p is None else top_p, greedy=greedy)
        except ValueError as e:
            raise StudentError(str(e)) from None
        controls = self.format.request(task, compression=compression, diversity=diversity, exemplar=exemplar)
        prompts = [tuple(prompt_ids(self.tokenizer, self.format.prompt(t, controls), decoder_only=self.decoder_only))
                   for t in texts]
        self._check_lengths(prompts, max_new_tokens)
        newlines = self._stop_ids()
        limits = [Extractive.for_text(self.tokenizer, t, self._eos | newlines) if extractive else None for t in texts]
        jobs = [DecodeJob(p, key=keys[i] * n + s, constraint=limits[i]) for i, p in enumerate(prompts) for s in range(n)]
        generated = decode_by_length(
            self.backend, jobs, cfg, seed=seed, eos_ids=self._eos, pad_id=self._pad, batch_size=batch_size,
            max_new_tokens=lambda b: max_new_tokens or _output_room(max(len(j.prompt) for j in b)),
            stop=lambda st: st.generated[-1] in newlines)
        outputs = [self.tokenizer.decode(ids, skip_special_tokens=True).split("\n", 1)[0].strip() for ids in generated]
        return [outputs[i * n : (i + 1) * n] for i in range(len(texts))]

    def rewrite(self, texts: Sequence[str], task: str = "paraphrase", controls: EvalControls = EvalControls(), *,
                embedder: str = DEFAULT_EMBEDDER, batch_size: int = 32, seed: int = 0) -> list[str]:
        """One output per text, decoded under `controls` (greedy, or the most informative of
        controls.best_of samples compared by `embedder`): how the student is evaluated."""
        return [o[0] for o in self.generate(texts, task=task, batch_size=batch_size, seed=seed, embedder=embedder,
                                            **controls.as_controls())]

    def _best_of(self, texts: list[str], best_of: int, embedder: str, *, task: str, n: int, sample: bool | None,
                 temperature: float | None, top_p: float | None, **options) -> list[list[str]]:
        """generate(best_of=...): the most informative of best_of samples."""
        if task != "summary" or n != 1 or sample:
            raise StudentError("best_of chooses one summary per text: it needs task='summary', n=1 and no sample=True "
                               f"(got task={task!r}, n={n}, sample={sample})")
        samples = self.generate(texts, task=task, n=best_of, sample=True, **options,
                                temperature=BEST_OF_SAMPLING[0] if temperature is None else temperature,
                                top_p=BEST_OF_SAMPLING[1] if top_p is None else top_p)
        picked = most_informative(load_embedder(embedder), texts, samples)
        return [[p] for p in picked]

    def _check_lengths(self, prompts: Sequence[Sequence[int]], max_new_tokens: int | None) -> None:
        """Every prompt and its output must fit the model's positions (a 1 MB line would not)."""
        if self._positions is None:
            return
        for i, p in enumerate(prompts):
            if len(p) + (max_new_tokens or _output_room(len(p))) > self._positions:
                raise TextTooLongError(i, len(p), self._positions)

    def paraphrase(self, texts: Sequence[str], n: int = 1, *, diversity: float | str | None = None,
                   compression: float | str | None = None, exemplar: str | None = None,
                   **options) -> list[str] | list[list[str]]:
        """Paraphrases: one string per text when n == 1, else a list of n per text.

        diversity: wanted 1 - ROUGE-L to the source (e.g. 0.6), or a code label; compression:
        wanted len(output) / len(source) in characters; exemplar: a sentence whose syntax the
        output should follow. None leaves a control out. options: see `generate`."""
        out = self.generate(texts, task="paraphrase", n=n, diversity=diversity, compression=compression,
                            exemplar=exemplar, **options)
        return [o[0] for o in out] if n == 1 else out

    def summarize(self, texts: Sequence[str], n: int = 1, *, compression: float | str | None = None,
                  diversity: float | str | None = None, exemplar: str | None = None, extractive: bool = False,
                  **options) -> list[str] | list[list[str]]:
        """Sentence summaries (compressions); extractive=True only deletes words (the form of the
        Google, broadcast and BNC compression sets); best_of=N returns the most informative of N
        (see `generate`); other arguments as for `paraphrase`."""
        out = self.generate(texts, task="summary", n=n, diversity=diversity, compression=compression,
                            exemplar=exemplar, extractive=extractive, **options)
        return [o[0] for o in out] if n == 1 else out


def load_embedder(model: str = DEFAULT_EMBEDDER):
    """The sentence embedder best_of compares with: impdist.judges.embed's (torch) where torch is
    installed, else the numpy one of the serving install (the same rows to float32 rounding)."""
    if importlib.util.find_spec("torch") is not None:
        return embed.load_embedder(model)
    return load_numpy_embedder(model)


def _output_room(prompt_tokens: int) -> int:
    """Most new tokens for a prompt of this length: twice the prompt, within MAX_NEW_TOKENS."""
    return min(MAX_NEW_TOKENS, 2 * prompt_tokens + 8)


def _max_positions(path: Path) -> int | None:
    """The model's context length from its config.json (None when it has no fixed one)."""
    try:
        config = json.loads((path / "config.json").read_bytes())
    except (OSError, ValueError):
        return None
    value = next((config.get(k) for k in ("max_position_embeddings", "n_positions") if config.get(k)), None)
    return int(value) if isinstance(value, int) and value > 0 else None


def input_texts(lines: Iterable[str], input_format: str = "auto", where: str = "<stdin>") -> Iterator[str]:
    """The text of each input line: the line itself, or the `src` of a JSON object. Blank lines
    stay (as ""), so outputs line up with inputs. input_format: "text", "jsonl", or "auto" (JSONL
    when the first non-blank line starts with '{')."""
    if input_format not in ("auto", "text", "jsonl"):
        raise StudentError(f"input format must be auto, text or jsonl, got {input_format!r}")
    lines = iter(lines)
    head: list[str] = []
    if input_format == "auto":
        for line in lines:
            head.append(line)
            if line.strip():
                break
        input_format = "jsonl" if head and head[-1].lstrip().startswith("{") else "text"
    for lineno, line in enumerate(itertools.chain(head, lines), 1):
        line = line.rstrip("\r\n")
        if input_format == "text" or not line.strip():
            yield line.strip()
            continue
        obj = parse_json_object(line, f"{where}:{lineno}", '{"src": "A sentence."}',
                                "Or pass --format text for plain lines.")
        if not isinstance(obj.get("src"), str):
            raise MalformedInputError(f"{where}:{lineno}: expected an object with a string field 'src', e.g. "
                                      '{"src": "A sentence."}; or pass --format text for plain lines')
        yield obj["src"]


def rewrite_stream(student: Paraphraser, lines: Iterable[str], write: Callable[[str], object], *, task: str,
                   input_format: str = "auto", where: str = "<stdin>", chunk: int = 256, **options) -> int:
    """Rewrite every input line (text, or JSONL with `src`) and write one JSONL line
    {"src", "tgt"} per input line, in order, `chunk` lines at a time; returns the line count.
    input_format: as for input_texts."""
    texts = input_texts(lines, input_format, where)
    count = 0
    while True:
        batch: list[str] = []
        error: ImpdistError | None = None
        try:  # a bad line ends the input, after the lines before it are written
            for text in texts:
                batch.append(text)
                if len(batch) == chunk:
                    break
        except MalformedInputError as e:
            error = e
        try:
            _write_rewrites(student, batch, write, task, options)
        except TextTooLongError as e:
            line = count + [k for k, t in enumerate(batch) if t][e.index]
            _write_rewrites(student, batch[:line - count], write, task, options)
            raise TextTooLongError(e.index, e.tokens, e.limit, f"{where}:{line + 1}") from None
        count += len(batch)
        if error is not None:
            raise error
        if len(batch) < chunk:
            return count


def rewrite_file(model: str | os.PathLike, source: str | os.PathLike = "-", output: str | os.PathLike = "-", *,
                 task: str = "paraphrase", input_format: str = "auto", backend: str | None = None, device: str = "cpu",
                 threads: int | None = None, **options) -> int:
    """`impdist paraphrase` / `impdist summarize`: rewrite every line of `source` (text, or JSONL
    with `src`; "-": stdin) with the student in `model` and write one JSONL line {"src", "tgt"}
    per input line to `output` ("-": stdout; a file is replaced only once every line is done).
    Returns the line count; options: see Paraphraser.generate."""
    lines = read_lines(source)  # a missing file fails before the student loads
    student = Paraphraser.load(model, backend, device, threads=threads)
    with open_output(output) as write:
        return rewrite_stream(student, lines, write, task=task, input_format=input_format,
                              where="<stdin>" if str(source) == "-" else str(source), **options)


def _write_rewrites(student: Paraphraser, batch: list[str], write: Callable[[str], object], task: str,
                    options: dict) -> None:
    """One JSONL line per text of batch, in order; a blank text gets a blank output."""
    todo = [t for t in batch if t]
    outs = iter(student.generate(todo, task=task, **options) if todo else [])
    for text in batch:
        tgt = next(outs) if text else [""] * options.get("n", 1)
        write(json.dumps({"src": text, "tgt": tgt[0] if len(tgt) == 1 else tgt}, ensure_ascii=False) + "\n")
