"""Beam search, BLEU and the evaluation of a trained net for the translation family.

BLEU is sacrebleu's (detokenized, the shareable number, reported with its signature) plus the
paper's "tokenized BLEU": multi-bleu.perl over Moses-tokenized text with hyphenated compounds split
(fairseq's compound_split_bleu.sh), which is what WMT'14 En-De numbers such as 27.3 / 28.4 are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU
from sacremoses import MosesTokenizer


@torch.no_grad()
def beam_search(model, src: torch.Tensor, bos: int, eos: int, beam: int = 4, lenpen: float = 0.6,
                max_len_a: float = 1.2, max_len_b: int = 10) -> list[list[int]]:
    """Best hypothesis (token ids, without bos/eos) for each padded source row of `src`.

    fairseq's scoring: sum of token log-probabilities / length ** lenpen, a hypothesis ends at eos,
    and a sentence stops once `beam` hypotheses have ended; at most max_len_a * |src| + max_len_b tokens.
    """
    model.eval()
    batch = src.size(0)
    memory, src_pad = model.encode(src)
    memory, src_pad = memory.repeat_interleave(beam, 0), src_pad.repeat_interleave(beam, 0)
    max_len = int(max_len_a * (~src_pad).sum(1).max().item() + max_len_b)
    tokens = torch.full((batch * beam, 1), bos, dtype=torch.long, device=src.device)
    scores = torch.zeros(batch, beam, device=src.device)
    scores[:, 1:] = float("-inf")  # all beams start identical: expand the first only
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool)
    for step in range(max_len):
        log_probs = F.log_softmax(model.decode(tokens, memory, src_pad, last_only=True)[:, -1].float(), -1)
        if step == max_len - 1:  # out of room: every hypothesis must end here
            forced = torch.full_like(log_probs, float("-inf"))
            forced[:, eos] = log_probs[:, eos]
            log_probs = forced
        vocab = log_probs.size(-1)
        candidates = (scores.view(-1, 1) + log_probs).view(batch, beam * vocab)
        top_scores, top_ids = candidates.topk(2 * beam, dim=1)
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(batch):
            kept = []
            for score, idx in zip(top_scores[b].tolist(), top_ids[b].tolist()):
                row, token = b * beam + idx // vocab, idx % vocab
                if done[b] or score == float("-inf"):
                    break
                if token == eos:
                    hypothesis = tokens[row, 1:].tolist()
                    finished[b].append((score / (len(hypothesis) + 1) ** lenpen, hypothesis))
                    if len(finished[b]) == beam:
                        done[b] = True
                else:
                    kept.append((row, token, score))
                if len(kept) == beam:
                    break
            kept += [(b * beam, eos, float("-inf"))] * (beam - len(kept))  # dead beams (sentence done)
            for row, token, score in kept:
                next_rows.append(row), next_tokens.append(token), next_scores.append(score)
        if done.all():
            break
        rows = torch.tensor(next_rows, device=src.device)
        tokens = torch.cat([tokens[rows], torch.tensor(next_tokens, device=src.device).unsqueeze(1)], 1)
        scores = torch.tensor(next_scores, device=src.device).view(batch, beam)
    return [max(hyps)[1] if hyps else [] for hyps in finished]


def sacrebleu_score(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """Detokenized, case-sensitive corpus BLEU (sacrebleu defaults) and its signature."""
    metric = BLEU()
    return metric.corpus_score(hypotheses, [references]).score, str(metric.get_signature())


def tokenized_bleu(hypotheses: list[str], references: list[str], lang: str = "de") -> float:
    """The paper's BLEU: Moses tokenization with hyphens split (a @-@ b), then multi-bleu.perl's BLEU."""
    tokenizer = MosesTokenizer(lang=lang)
    tokenize = lambda text: tokenizer.tokenize(text, aggressive_dash_splits=True, return_str=True,  # noqa: E731
                                               escape=False)
    metric = BLEU(tokenize="none", force=True)
    return metric.corpus_score([tokenize(h) for h in hypotheses], [[tokenize(r) for r in references]]).score


def translate(model, sentences: list[str], bpe, beam: int, lenpen: float, device, max_source: int,
              batch_size: int = 64) -> list[str]:
    """Detokenized beam-search translations, in input order (sources batched by length, each cut to
    `max_source` subwords)."""
    from lthlib.families.translation_data import BOS, EOS, pad

    encoded = [ids[:max_source] for ids in bpe.encode(sentences)]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out: list[str] = [""] * len(sentences)
    for start in range(0, len(order), batch_size):
        indices = order[start: start + batch_size]
        source = pad([encoded[i] + [EOS] for i in indices], device)
        for i, ids in zip(indices, beam_search(model, source, BOS, EOS, beam, lenpen)):
            out[i] = bpe.decode(ids)
    return out


@torch.no_grad()
def nll_per_token(model, split, cfg) -> float:
    """Mean target-token negative log-likelihood (nats, no smoothing)."""
    from lthlib.families.translation_data import PAD, make_batch, token_batches

    model.eval()
    total, count = 0.0, 0
    for indices in token_batches(split, cfg.max_tokens, torch.Generator().manual_seed(0)):
        source, decoder_input, target = make_batch(split, indices, cfg.device)
        logits = model(source, decoder_input)
        total += F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=PAD, reduction="sum").item()
        count += target.ne(PAD).sum().item()
    return total / count


def evaluate(model, data, cfg, max_source: int) -> dict:
    """Test BLEU (sacrebleu and tokenized) on the first cfg.test_sentences sentences, validation NLL, and
    five example translations."""
    test = data.test
    n = cfg.test_sentences or len(test.source_text)
    hypotheses = translate(model, test.source_text[:n], data.bpe, cfg.beam, cfg.lenpen, cfg.device, max_source)
    references = test.target_text[:n]
    bleu, signature = sacrebleu_score(hypotheses, references)
    return {
        "metrics": {"bleu": bleu, "tokenized_bleu": tokenized_bleu(hypotheses, references),
                    "valid_nll": nll_per_token(model, data.valid, cfg)},
        "bleu_signature": signature,
        "examples": [{"source": s, "reference": r, "translation": h}
                     for s, r, h in zip(test.source_text[:5], references[:5], hypotheses[:5])],
    }
