"""WikiText-2 as the LSTM reads it (word-level, PyTorch word_language_model's tokenization), and its trivial
baseline: a unigram model of the training tokens a config trains on, the bar a language model must clear to have
learned more than which words are common. The bar's records are published beside the runs, one per data setting."""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from lthlib.atomic import atomic_write_json, read_json
from lthlib.data_needed import missing_data, planning_only
from lthlib.paths import empty_files, resolve
from lthlib.store import settings_hash

DATA_ENV_VAR = "LTH_WIKITEXT2_DIR"
DEFAULT_DATA_DIR = "data/wikitext-2"
# WikiText-2's training tokens (words and one <eos> a line, as load_corpus reads them) and vocabulary, as
# published: what a grid planned without the data counts on (a test checks them against the data)
TRAIN_TOKENS, VOCAB_SIZE = 2_088_628, 33_278
SPLITS = ("train", "valid", "test")


def planned_without_data(cfg: Any) -> bool:
    """A grid planned where the data is not (`lthlib.data_needed`): sizes then come from the published counts."""
    return planning_only() and not all((data_dir(cfg) / f"{s}.txt").is_file() for s in SPLITS)


def data_dir(cfg: Any) -> Path:
    """The WikiText-2 directory: cfg.data_dir, else $LTH_WIKITEXT2_DIR, else data/wikitext-2/."""
    path = resolve(cfg.data_dir or os.environ.get(DATA_ENV_VAR) or DEFAULT_DATA_DIR)
    missing = [f"{s}.txt" for s in SPLITS if not (path / f"{s}.txt").is_file()]
    if missing:  # raised, or noted while a grid is only planned
        missing_data(
            f"WikiText-2 not found: {', '.join(missing)} missing in {path}. Put the word-level "
            "train.txt, valid.txt and test.txt there (the copy PyTorch's word_language_model example "
            "ships: github.com/pytorch/examples, word_language_model/data/wikitext-2/), or point "
            f"the notebook's data_dir parameter or ${DATA_ENV_VAR} at a directory that has them."
        )
        return path
    empty = empty_files(path / f"{s}.txt" for s in SPLITS)
    if empty:
        raise ValueError(f"WikiText-2 files with no text in {path}: {', '.join(p.name for p in empty)}. Put the "
                         "word-level train.txt, valid.txt and test.txt there (or point data_dir elsewhere).")
    return path


def tokenize(path: Path) -> list[str]:
    """Word-level tokens the way PyTorch's word_language_model reads them: split, then <eos> per line."""
    with open(path, encoding="utf-8") as f:
        return [token for line in f for token in line.split() + ["<eos>"]]


@dataclass(frozen=True)
class Corpus:
    vocab: dict[str, int]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor


@lru_cache(maxsize=2)
def load_corpus(directory: Path) -> Corpus:
    """Token ids of the three splits; the vocabulary (all three) is ordered by training frequency."""
    tokens = {split: tokenize(directory / f"{split}.txt") for split in SPLITS}
    first_seen = dict.fromkeys(token for split in SPLITS for token in tokens[split])
    counts = Counter(tokens["train"])
    ordered = sorted(first_seen, key=lambda token: -counts[token])  # stable: ties keep first appearance
    vocab = {token: i for i, token in enumerate(ordered)}
    ids = {split: torch.tensor([vocab[t] for t in tokens[split]], dtype=torch.long) for split in SPLITS}
    return Corpus(vocab, ids["train"], ids["valid"], ids["test"])


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(tokens,) -> (steps, batch) columns of contiguous text, dropping the remainder."""
    steps = ids.numel() // batch_size
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


def unigram_baseline(cfg: Any) -> dict:
    """The bar a language model must clear to have learned anything beyond word frequencies: the test log
    perplexity of a unigram model (add-one smoothed counts of the training tokens the config trains on),
    on the same test tokens `log_perplexity` scores."""
    corpus = load_corpus(data_dir(cfg))
    counts = torch.bincount(corpus.train[: cfg.train_tokens], minlength=len(corpus.vocab)).double() + 1
    log_p = counts.log() - counts.sum().log()
    targets = batchify(corpus.test[: cfg.eval_tokens], cfg.eval_batch_size)[1:]
    test_log_ppl = -math.fsum(log_p[targets].flatten().tolist()) / targets.numel()  # exact: the same at any thread count
    return {"test_log_ppl": test_log_ppl, "test_ppl": math.exp(test_log_ppl), "data": unigram_settings(dataclasses.asdict(cfg))}


def unigram_settings(config: dict) -> dict:
    """What a unigram baseline depends on, from a config's fields (e.g. a run's settings.json)."""
    return {name: config[name] for name in ("train_tokens", "eval_tokens", "eval_batch_size")}


def publish_unigram_baseline(record: dict, results_dir: str | Path) -> Path:
    """Write `unigram_baseline`'s record beside the published runs, one file per data setting."""
    path = Path(results_dir) / "lstm_lm" / "WikiText-2" / f"unigram-{settings_hash(record['data'])}.json"
    atomic_write_json(record, path)
    return path


def unigram_baselines(results_dir: str | Path) -> list[dict]:
    return [read_json(p) for p in sorted(Path(results_dir).glob("lstm_lm/WikiText-2/unigram-*.json"))]
