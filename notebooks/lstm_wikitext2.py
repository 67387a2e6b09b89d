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
# # Lottery tickets in an LSTM language model (WikiText-2)
#
# The paper's recurrent NLP experiment: a 2-layer LSTM language model on word-level WikiText-2,
# pruned globally (embeddings, LSTM weights and biases, decoder, all pooled), rewound to the
# weights after the first tenth of the batches (the paper's epoch 1 of 10, kept at every preset),
# retrained. The metric is the test **log perplexity** (mean token negative log-likelihood in
# nats; lower is better). The paper's claims: winning tickets beat random tickets at every level
# and stay near the dense net up to ~90% pruned; without late rewinding only intermediate levels
# suffer; one-shot pruning collapses.

# %% tags=["parameters"]
preset: str = "cpu"  # smoke (seconds, tests) | cpu (one seed in ~2 h on 2 cores; see the printed differences) | paper (650 units, 10 epochs)
variant: str = "iterative-late"  # iterative-late | iterative-reset | oneshot-late | oneshot-reset; finished runs of the other variants with the same settings join the variants figure
seeds: list = [0]  # independent pruning processes (the paper: 3)
levels: int = 10  # pruning iterations after the dense run; level k has 1-(1-p)^k of the weights pruned (the paper: 20)
pruning_rate: float = 0.2  # p: the fraction of the remaining weights each iteration prunes, in (0, 1)
random_tickets: bool = None  # None: as the run was started (True for a new run) | False: the dense net and winning tickets only (an ablation variant, judged against the main run's random tickets) | True: also random tickets (added to a run without them)
data_dir: str = ""  # WikiText-2 train.txt/valid.txt/test.txt; "" -> $LTH_WIKITEXT2_DIR, else data/wikitext-2/
device: str = "auto"  # torch device: auto (cuda where a GPU is visible, else cpu) | cpu | cuda
runs_dir: str = "data/runs"  # run directories (weights, masks, metrics); relative paths start at the repository root
workers: int = 2  # processes: whole seeds side by side, or each seed's random tickets beside its winning ones where that is sooner (1 or 3 seeds on 2)
overrides: dict = {}  # fields of the preset's LSTMConfig to change, e.g. {"epochs": 2}
publish_to: str = ""  # if set (e.g. "data/results"), also write each run's small summary there, for the book

# %%
import pandas as pd

from lthlib import experiment, load_results
from lthlib.families import lstm_lm, wikitext2
from lthlib.paths import resolve
from lthlib.plots import level_table, pruning_curve, show, variants_curve
from lthlib.store import variant_runs

# Every parameter is checked here, before any training starts: unknown names and wrong types first.
log = experiment.check_parameters(globals(), "lstm_wikitext2")  # the terminal under papermill, else None
config, lottery, seeds = experiment.from_parameters(lstm_lm.FAMILY,  # as `lth sweep` plans it
                                                    experiment.notebook_values(globals(), "lstm_wikitext2"), log=log)
print("data:", wikitext2.data_dir(config))

# %% [markdown]
# ## Run (or resume) the lottery
# Finished tickets are found on disk and skipped, so rerunning after an interruption continues.

# %%
root = experiment.run(lstm_lm.FAMILY, config, lottery, seeds, runs_dir, workers, publish_to, log=log)

# %% [markdown]
# ## Has the net learned?
# A unigram model (word frequencies of the same training tokens, add-one smoothed) is the bar: a dense
# net's test perplexity must be clearly below it.

# %%
unigram = wikitext2.unigram_baseline(config)
if publish_to:
    wikitext2.publish_unigram_baseline(unigram, resolve(publish_to))
dense = load_results(root).query("ticket == 'dense' and metric == 'test_ppl'").value
print(f"test perplexity: dense net {dense.mean():.1f} (seeds: {len(dense)}), unigram model {unigram['test_ppl']:.1f}")

# %% [markdown]
# ## Pruning curves

# %%
results = experiment.shown_results(root, seeds, levels)
show(pruning_curve(results, "test_log_ppl", title=f"WikiText-2 · {variant}",
                   y_title="test log perplexity (lower is better)"))

# %% [markdown]
# ## Variants in one figure
# The runs of the other variants with the same settings, where they exist (run this notebook with
# `-p variant iterative-reset` and `-p variant oneshot-reset` to complete the paper's figure).

# %%
all_variants = pd.concat([experiment.shown_results(r, seeds, levels) for r in variant_runs(root)])
show(variants_curve(all_variants, "test_log_ppl", title="WikiText-2 · variants",
                    y_title="test log perplexity (lower is better)"))

# %% [markdown]
# ## Winning vs random ticket, level by level (test perplexity)

# %%
level_table(results, "test_ppl").round(1)

# %% [markdown]
# ## What this run found
# Each effect with its interval over seeds, by the verdicts' rule (under papermill, on the terminal too).

# %%
experiment.say_findings(lstm_lm.FAMILY, results, log)
