# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lottery tickets in a Transformer translating English to German
#
# The paper's second NLP experiment: Transformer Base and Big (fairseq's recipe, here in plain
# PyTorch) on WMT'14 En→De, pruned globally, rewound to the weights after 1000 updates, retrained,
# scored by BLEU. Two pruning scopes: **everything pooled**, embeddings included (the paper's left
# figure), and **the attention and feed-forward layers only** (their weights and biases), embeddings
# and layer norms kept whole (the right figure). The paper's claims: winning tickets beat random tickets; Big keeps 99% of its
# BLEU at 67% pruned; with embeddings kept whole, random tickets fall off much faster than when
# everything is pruned while winning tickets decline roughly linearly. The `cpu` preset runs a
# small Transformer on Multi30k (29k sentence pairs) instead.

# %% tags=["parameters"]
preset: str = "cpu"  # smoke (seconds, tests) | cpu (small Transformer on Multi30k, 2 cores) | paper (WMT14, Base or Big, a GPU)
arch: str = ""  # base | big | small | mini | tiny; empty: the preset's (paper: base, cpu: mini)
dataset: str = ""  # Multi30k | WMT14; empty: the preset's (paper: WMT14, cpu and smoke: Multi30k)
prune_embeddings: bool = True  # True: every weight pooled, embeddings included; False: attention and feed-forward layers only (weights and biases)
both_scopes: bool = True  # also run the other pruning scope, for the side-by-side figure
variant: str = "iterative-late"  # iterative-late | iterative-reset | oneshot-late | oneshot-reset
seeds: list = [0]  # independent pruning processes (the paper: one per setting)
levels: int = 5  # pruning iterations after the dense run; level k has 1-(1-p)^k of the weights pruned
pruning_rate: float = 0.2  # p: the fraction of the remaining weights each iteration prunes, in (0, 1)
random_tickets: bool = None  # None: as the run was started (True for a new run) | False: the dense net and winning tickets only (an ablation variant, judged against the main run's random tickets) | True: also random tickets (added to a run without them)
data_dir: str = ""  # the dataset directory; empty: $LTH_MULTI30K_DIR or $LTH_WMT14_DIR, else data/multi30k or data/wmt14-en-de
device: str = "auto"  # torch device: auto (cuda where a GPU is visible, else cpu) | cpu | cuda
runs_dir: str = "data/runs"  # run directories (weights, masks, metrics); relative paths start at the repository root
workers: int = 2  # processes: whole seeds side by side, or each seed's random tickets beside its winning ones where that is sooner (1 or 3 seeds on 2)
overrides: dict = {}  # fields of the preset's TransformerConfig to change, e.g. {"updates": 2000}
publish_to: str = ""  # if set (e.g. "data/results"), also write each run's small summary there, for the book

# %%
import pandas as pd

from lthlib import experiment
from lthlib.families import transformer_mt, translation_data
from lthlib.lottery import level_dir
from lthlib.plots import level_table, pruning_curve, show
from lthlib.atomic import read_json

# Every parameter is checked here, before any training starts: unknown names and wrong types first.
log = experiment.check_parameters(globals(), "transformer_mt")  # the terminal under papermill, else None
scopes = [prune_embeddings] + ([not prune_embeddings] if both_scopes else [])
values = experiment.notebook_values(globals(), "transformer_mt")
prepared = {scope: experiment.from_parameters(transformer_mt.FAMILY, values | {"prune_embeddings": scope}, log=log)
            for scope in scopes}  # each scope as `lth sweep` plans it
config = prepared[prune_embeddings][0]
print("data:", translation_data.data_dir(config))
SCOPE_NAMES = {True: "everything pruned", False: "embeddings kept whole"}

# %% [markdown]
# ## Run (or resume) the lottery, one run per pruning scope
# Finished tickets are found on disk and skipped, so rerunning after an interruption continues.

# %%
roots = {scope: experiment.run(transformer_mt.FAMILY, cfg, lottery, run_seeds, runs_dir, workers, publish_to, log=log)
         for scope, (cfg, lottery, run_seeds) in prepared.items()}

# %% [markdown]
# ## BLEU pruning curves
# sacrebleu's detokenized BLEU on the test set (the signature is printed below), winning tickets in
# blue, random tickets in red, the dense net in gray.

# %%
results = {}
for scope, root in roots.items():
    results[scope] = experiment.shown_results(root, seeds, levels)
    show(pruning_curve(results[scope], "bleu", title=f"{config.dataset} · {config.arch} · {SCOPE_NAMES[scope]} · {variant}",
                       y_title="test BLEU (sacrebleu)"))
dense_record = read_json(level_dir(roots[prune_embeddings], seeds[0], 0) / "dense.json")
print("BLEU signature:", dense_record["bleu_signature"])

# %% [markdown]
# ## Winning vs random ticket, level by level
# Mean test BLEU per level (tokenized BLEU, the paper's number, beside sacrebleu's).

# %%
tables = []
for scope, df in results.items():
    for metric in ("bleu", "tokenized_bleu"):
        table = level_table(df, metric)
        table.columns = pd.MultiIndex.from_product([[f"{SCOPE_NAMES[scope]}: {metric}"], table.columns])
        tables.append(table)
pd.concat(tables, axis=1).round(2)

# %% [markdown]
# ## Translations: the dense net and a sparse winning ticket
# The first test sentences, translated by the dense net and by the winning ticket at the highest
# level run (everything pruned, when that scope ran).

# %%
root = roots[True] if True in roots else roots[prune_embeddings]
sparse_level = max((level for level in range(1, levels + 1) if (level_dir(root, seeds[0], level) / "winning.json").exists()),
                   default=0)
dense = read_json(level_dir(root, seeds[0], 0) / "dense.json")
sparse = read_json(level_dir(root, seeds[0], sparse_level) / ("winning.json" if sparse_level else "dense.json"))
pd.DataFrame({
    "source": [e["source"] for e in dense["examples"]],
    "reference": [e["reference"] for e in dense["examples"]],
    "dense": [e["translation"] for e in dense["examples"]],
    f"winning ticket, {sparse['fraction_pruned']:.0%} pruned": [e["translation"] for e in sparse["examples"]],
}).style.set_properties(**{"text-align": "left", "white-space": "normal"})

# %% [markdown]
# ## What this run found
# Each effect with its interval over seeds, by the verdicts' rule, per pruning scope (under papermill, on the
# terminal too).

# %%
for scope, df in results.items():
    experiment.say(f"{SCOPE_NAMES[scope]}:", log)
    experiment.say_findings(transformer_mt.FAMILY, df, log)
