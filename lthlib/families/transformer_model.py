"""The Transformer of Vaswani et al. as fairseq builds it for WMT'14 (the rest of the family:
`lthlib.families.transformer_mt`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lthlib.families.translation_data import PAD

MAX_POSITIONS = 1024  # fairseq's max_source_positions / max_target_positions


# --- model ---------------------------------------------------------------------------------------

def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2], table[:, 1::2] = torch.sin(position * frequency), torch.cos(position * frequency)
    return table


class Transformer(nn.Module):
    """Post-norm encoder-decoder; one embedding matrix for source, target and the output projection.

    Dropout as fairseq places it: `dropout` on the embeddings and on each sublayer's output;
    `attention_dropout` and `activation_dropout` (0 in both of the paper's archs) where nn.Transformer*
    would otherwise reuse `dropout`: on the attention weights and inside the feed-forward block.
    """

    def __init__(self, vocab_size: int, d_model: int, ffn_dim: int, heads: int, layers: int, dropout: float,
                 attention_dropout: float = 0.0, activation_dropout: float = 0.0, max_positions: int = MAX_POSITIONS,
                 xavier_init: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)  # fairseq's
        nn.init.zeros_(self.embedding.weight[PAD])
        self.register_buffer("positions", sinusoidal_positions(max_positions, d_model), persistent=False)
        self.scale, self.dropout = math.sqrt(d_model), nn.Dropout(dropout)
        encoder_layer = nn.TransformerEncoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True)
        decoder_layer = nn.TransformerDecoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True)
        for layer in (encoder_layer, decoder_layer):  # the stacks deep-copy these templates
            layer.dropout = nn.Dropout(activation_dropout)
            for attention in (layer.self_attn, getattr(layer, "multihead_attn", None)):
                if attention is not None:
                    attention.dropout = attention_dropout
        self.encoder = nn.TransformerEncoder(encoder_layer, layers, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(decoder_layer, layers)
        if xavier_init:  # fairseq's: Xavier-uniform weights, zero biases (attention's in_proj already is, at
            for name, module in self.named_modules():  # the bound fairseq's separate q, k, v projections get)
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.embedding(tokens) * self.scale + self.positions[: tokens.size(1)])

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        source_pad = source.eq(PAD)
        return self.encoder(self.embed(source), src_key_padding_mask=source_pad), source_pad

    def decode(self, decoder_input: torch.Tensor, memory: torch.Tensor, source_pad: torch.Tensor,
               last_only: bool = False) -> torch.Tensor:
        """Logits over the vocabulary at every target position (or only the last: beam search)."""
        length = decoder_input.size(1)
        causal = torch.ones(length, length, dtype=torch.bool, device=decoder_input.device).triu(1)
        hidden = self.decoder(self.embed(decoder_input), memory, tgt_mask=causal, tgt_is_causal=True,
                              tgt_key_padding_mask=decoder_input.eq(PAD), memory_key_padding_mask=source_pad)
        return F.linear(hidden[:, -1:] if last_only else hidden, self.embedding.weight)

    def forward(self, source: torch.Tensor, decoder_input: torch.Tensor) -> torch.Tensor:
        memory, source_pad = self.encode(source)
        return self.decode(decoder_input, memory, source_pad)
