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
# # Lottery tickets in classic control
#
# Do sparse *winning tickets* exist in reinforcement learning? Following Yu et al. (ICLR 2020), we
# train an A2C agent (an MLP with a policy and a value head) on a classic-control task, prune it
# globally by magnitude (weights and biases of all layers pooled), rewind the survivors to their
# values after the first 1/20 of the episodes (late rewinding: the paper's epoch 1 of 20, kept at
# every preset), retrain, and repeat 20 times. At each level a *random ticket* with the same mask
# but freshly drawn weights is trained the same way.
#
# A ticket's reward is the mean return of its last 100 training episodes. Curves show the mean ±
# std over independent pruning processes (seeds): winning tickets in blue, random tickets in red,
# the dense network as a gray line.
#
# The paper used LunarLander-v2; gymnasium 1.x removed it, so we use **LunarLander-v3** (the same
# task, with bug fixes).

# %% tags=["parameters"]
env: str = "CartPole-v0"  # gymnasium id: CartPole-v0, Acrobot-v1, LunarLander-v3, or any env with Discrete actions and vector observations
preset: str = "cpu"  # smoke (seconds, for tests) | cpu (default: a 2-core CPU) | paper (the paper's N, M, L)
seeds: list = [0, 1, 2]  # independent pruning processes; curves show mean ± std over them
variant: str = "iterative-late"  # iterative-late (default) | iterative-reset | oneshot-late | oneshot-reset
levels: int = 20  # pruning iterations after the dense run; level k has 1-(1-p)^k of the weights pruned
pruning_rate: float = 0.2  # p: the fraction of the remaining weights each iteration prunes, in (0, 1)
random_tickets: bool = None  # None: as the run was started (True for a new run) | False: the dense net and winning tickets only (an ablation variant, judged against the main run's random tickets) | True: also random tickets (added to a run without them)
device: str = "cpu"  # torch device for the networks: cpu or cuda
runs_dir: str = "data/runs"  # run directories (weights, masks, metrics); relative paths start at the repository root
workers: int = 2  # processes: whole seeds side by side, or each seed's random tickets beside its winning ones where that is sooner (1 or 3 seeds on 2)
overrides: dict = {}  # fields of the preset's A2CConfig to change, e.g. {"epochs": 5, "gamma": 0.98}
publish_to: str = ""  # if set (e.g. "data/results"), also write the run's small summary there, for the book

# %%
from lthlib import experiment
from lthlib.families import classic_control
from lthlib.plots import level_table, pruning_curve, show

# Every parameter is checked here, before any training starts: unknown names and wrong types first.
log = experiment.check_parameters(globals(), "classic_control")  # the terminal under papermill, else None
config, lottery, seeds = experiment.from_parameters(classic_control.FAMILY,  # as `lth sweep` plans it
                                                    experiment.notebook_values(globals(), "classic_control"), log=log)

# %% [markdown]
# ## Run (or resume) the lottery
# Finished tickets are found on disk and skipped, so rerunning this cell after an interruption
# continues where it stopped.

# %%
root = experiment.run(classic_control.FAMILY, config, lottery, seeds, runs_dir, workers, publish_to, log=log)

# %% [markdown]
# ## Pruning curve

# %%
results = experiment.shown_results(root, seeds, levels)
show(pruning_curve(results, "reward", title=f"{env} · {variant} · {len(seeds)} seeds",
                   y_title="reward (mean of last 100 episodes)"))

# %% [markdown]
# ## Winning vs random ticket, level by level

# %%
level_table(results, "reward", spread=True).round(3)

# %% [markdown]
# ## What this run found
# Each effect with its interval over seeds, by the verdicts' rule (under papermill, on the terminal too).

# %%
experiment.say_findings(classic_control.FAMILY, results, log)
