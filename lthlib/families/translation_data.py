"""Translation data for the Transformer family: the corpora, SentencePiece BPE, token batches.

Multi30k (the cpu preset's) and WMT'14 En-De (the paper's) read from plain text files, one sentence per
line; a joint BPE vocabulary is trained once per corpus and cached under data/cache/bpe/.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import sentencepiece as spm
import torch

from lthlib.data_needed import missing_data
from lthlib.paths import empty_files, resolve



class TransformerConfig(Protocol):
    """The fields of `transformer_mt.TransformerConfig` that the data needs (so this module needs not import it)."""

    dataset: str
    data_dir: str
    vocab_size: int
    max_train_len: int
    max_len_ratio: float | None

# dataset -> (environment variable, default directory, {split: file stem}, what to download)
DATASETS = {
    "Multi30k": ("LTH_MULTI30K_DIR", "data/multi30k", {"train": "train", "valid": "val", "test": "test_2016_flickr"},
                 "Multi30k task 1 raw files (github.com/multi30k/dataset, data/task1/raw/, gunzipped)"),
    "WMT14": ("LTH_WMT14_DIR", "data/wmt14-en-de", {"train": "train", "valid": "newstest2013", "test": "newstest2014"},
              "WMT'14 En-De training data (Europarl v7, Common Crawl, News Commentary v9, concatenated into "
              "train.en / train.de, statmt.org/wmt14/translation-task.html) and newstest2013 / newstest2014 "
              "(statmt.org/wmt14/dev.tgz and test-full.tgz, as plain text)"),
}
NEWSTEST2014_ENV_VAR, NEWSTEST2014_DEFAULT = "LTH_NEWSTEST2014_DIR", "data/wmt14-newstest2014"
LANGS = ("en", "de")
PAD, UNK, BOS, EOS = 0, 1, 2, 3


# --- data and subwords ---------------------------------------------------------------------------

def data_files(cfg: TransformerConfig) -> dict[str, tuple[Path, Path]]:
    """The (English, German) files of each split, checked: the dataset's directory is cfg.data_dir,
    else $LTH_<DATASET>_DIR, else data/<dataset>/; WMT'14's newstest2014 may also sit in a directory
    of its own ($LTH_NEWSTEST2014_DIR, else data/wmt14-newstest2014/)."""
    env_var, default, stems, source = DATASETS[cfg.dataset]
    path = resolve(cfg.data_dir or os.environ.get(env_var) or default)
    files, missing = {}, []
    for split, stem in stems.items():
        candidates = [path]
        if cfg.dataset == "WMT14" and split == "test":
            candidates.append(resolve(os.environ.get(NEWSTEST2014_ENV_VAR) or NEWSTEST2014_DEFAULT))
        found = next((d for d in candidates if all((d / f"{stem}.{lang}").is_file() for lang in LANGS)), None)
        if found is None:
            missing += [f"{stem}.{lang}" for lang in LANGS]
        else:
            files[split] = (found / f"{stem}.en", found / f"{stem}.de")
    if missing:  # raised, or noted while a grid is only planned (the files are then not read)
        missing_data(
            f"{cfg.dataset} not found: {', '.join(missing)} missing in {path}. Put the {source} there, one "
            f"sentence per line (line i of .en translates to line i of .de), or point the notebook's data_dir "
            f"parameter or ${env_var} at a directory that has them."
        )
        return files
    empty = empty_files(f for pair in files.values() for f in pair)
    if empty:
        raise ValueError(f"{cfg.dataset} files with no text: {', '.join(map(str, empty))}. Put the {source} there, "
                         "one sentence per line, or point data_dir elsewhere.")
    return files


def data_dir(cfg: TransformerConfig) -> Path:
    return data_files(cfg)["train"][0].parent


def read_lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def bpe_model(train_files: tuple[Path, Path], vocab_size: int) -> spm.SentencePieceProcessor:
    """A joint BPE learned on the training source and target text, cached by content under the repository's
    data/cache/bpe/ (the data directory itself may be shared or read-only). Learned under a temporary
    name, then renamed, so that parallel runs never read a half-written model."""
    digest = hashlib.sha256(b"".join(f"{f.stat().st_size}:{f.read_bytes()[:1 << 20].hex()}".encode()
                                     for f in train_files)).hexdigest()[:12]
    prefix = resolve("data/cache/bpe") / f"{train_files[0].parent.name}-{vocab_size}-{digest}"
    if not prefix.with_suffix(".model").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        staging = prefix.with_name(f".{prefix.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        spm.SentencePieceTrainer.train(
            input=[str(f) for f in train_files], model_prefix=str(staging), vocab_size=vocab_size,
            model_type="bpe", character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            input_sentence_size=2_000_000, shuffle_input_sentence=True, minloglevel=2,
        )
        os.replace(staging.with_suffix(".vocab"), prefix.with_suffix(".vocab"))
        os.replace(staging.with_suffix(".model"), prefix.with_suffix(".model"))
    return spm.SentencePieceProcessor(model_file=str(prefix.with_suffix(".model")))


@dataclass(frozen=True)
class Sentences:
    """Subword ids of many sentences in one flat int32 tensor (WMT'14's 4.5M pairs as Python lists would
    take ~10 GB): sentence i is ids[offsets[i]:offsets[i + 1]], without bos / eos."""

    ids: torch.Tensor
    offsets: torch.Tensor

    @classmethod
    def encode(cls, bpe: spm.SentencePieceProcessor, lines: list[str], chunk: int = 100_000) -> Sentences:
        pieces, lengths = [], []
        for start in range(0, len(lines), chunk):
            encoded = bpe.encode(lines[start: start + chunk])
            lengths += map(len, encoded)
            pieces.append(torch.tensor([i for sentence in encoded for i in sentence], dtype=torch.int32))
        offsets = torch.zeros(len(lengths) + 1, dtype=torch.long)
        offsets[1:] = torch.tensor(lengths, dtype=torch.long).cumsum(0)
        return cls(torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[int]:
        return self.ids[self.offsets[i]: self.offsets[i + 1]].tolist()

    def lengths(self) -> torch.Tensor:
        return self.offsets.diff()

    def select(self, keep: torch.Tensor) -> Sentences:
        """The sentences where the boolean `keep` is True, in order."""
        lengths = self.lengths()
        offsets = torch.zeros(int(keep.sum()) + 1, dtype=torch.long)
        offsets[1:] = lengths[keep].cumsum(0)
        return Sentences(self.ids[torch.repeat_interleave(keep, lengths)], offsets)


def clean_pairs(source: Sentences, target: Sentences, max_len: int, max_ratio: float | None) -> torch.Tensor:
    """Which pairs Moses' clean-corpus-n.perl keeps (fairseq's prepare-wmt14en2de.sh runs it on the
    subword text with -ratio 1.5 and lengths 1..250): both sides 1..max_len long, neither longer than
    max_ratio times the other (None: no ratio test)."""
    a, b = source.lengths(), target.lengths()
    keep = (a >= 1) & (b >= 1) & (a <= max_len) & (b <= max_len)
    return keep if max_ratio is None else keep & (a <= max_ratio * b) & (b <= max_ratio * a)


@dataclass(frozen=True)
class Split:
    source: Sentences
    target: Sentences
    source_text: list[str]  # raw lines (empty for the training split: only test and valid are decoded)
    target_text: list[str]


@dataclass(frozen=True)
class Corpus:
    bpe: spm.SentencePieceProcessor
    train: Split
    valid: Split
    test: Split


@lru_cache(maxsize=2)
def load_corpus(files: tuple[tuple[str, Path, Path], ...], vocab_size: int, max_train_len: int,
                max_len_ratio: float | None) -> Corpus:
    """`files`: (split, English file, German file) for train, valid and test; the training pairs are
    cleaned (`clean_pairs`), the others kept whole."""
    by_split = {split: (en, de) for split, en, de in files}
    bpe = bpe_model(by_split["train"], vocab_size)
    splits = {}
    for split, (en_file, de_file) in by_split.items():
        en, de = read_lines(en_file), read_lines(de_file)
        if len(en) != len(de):
            raise ValueError(f"{en_file} has {len(en)} lines but {de_file} has {len(de)}")
        source, target = Sentences.encode(bpe, en), Sentences.encode(bpe, de)
        if split == "train":
            keep = clean_pairs(source, target, max_train_len, max_len_ratio)
            source, target, en, de = source.select(keep), target.select(keep), [], []
        splits[split] = Split(source, target, en, de)
    return Corpus(bpe, **splits)


def corpus(cfg: TransformerConfig) -> Corpus:
    return load_corpus(tuple((split, *pair) for split, pair in data_files(cfg).items()), cfg.vocab_size,
                       cfg.max_train_len, cfg.max_len_ratio)


def token_batches(split: Split, max_tokens: int, generator: torch.Generator) -> list[list[int]]:
    """Sentence indices grouped by length so that rows x longest side (+eos) <= max_tokens; shuffled."""
    lengths = (torch.maximum(split.source.lengths(), split.target.lengths()) + 1).tolist()
    order = torch.argsort(torch.tensor(lengths), stable=True).tolist()
    batches, current, longest = [], [], 0
    for i in order:
        if current and max(longest, lengths[i]) * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lengths[i])
    batches.append(current)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def pad(rows: list[list[int]], device) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out.to(device)


def make_batch(split: Split, indices: list[int], device):
    """(source + eos, <s> + target, target + eos), padded."""
    source = pad([split.source[i] + [EOS] for i in indices], device)
    decoder_input = pad([[BOS] + split.target[i] for i in indices], device)
    target = pad([split.target[i] + [EOS] for i in indices], device)
    return source, decoder_input, target
