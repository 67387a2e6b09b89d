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
# # Lottery tickets on Atari
#
# The paper's pixel-control experiment: a convolutional actor-critic (Table A1: four 64-channel
# conv + max-pool blocks, 1920 → 512 → 512, policy and value heads) trained on an ALE game by A2C
# with a clamped importance factor, pruned globally, rewound to the weights after the first
# 1/25 of the batches (the paper's epoch 1 of 25, kept at every preset), retrained. A ticket's
# reward is the mean score of its last L full games (not lives). The paper's nine games: Assault,
# Berzerk, Breakout, Centipede, Kangaroo, Krull, Qbert, Seaquest, SpaceInvaders; any game ale-py
# ships works.

# %% tags=["parameters"]
game: str = "Assault"  # an ALE game: Krull, ALE/Krull-v5, SpaceInvaders, ... (the paper's nine or any ale-py ships)
preset: str = "cpu"  # smoke (seconds, tests) | cpu (one game, one seed, ~1 h on 2 cores; see the printed differences) | paper (Table A1 and the paper N, M, L; with device cuda)
seeds: list = [0]  # independent pruning processes (the paper: 3)
variant: str = "iterative-late"  # iterative-late | iterative-reset | oneshot-late | oneshot-reset (the paper's ablations: Assault, Breakout, Seaquest)
levels: int = 10  # pruning iterations after the dense run; level k has 1-(1-p)^k of the weights pruned (the paper: 20)
pruning_rate: float = 0.2  # p: the fraction of the remaining weights each iteration prunes, in (0, 1)
random_tickets: bool = None  # None: as the run was started (True for a new run) | False: the dense net and winning tickets only (an ablation variant, judged against the main run's random tickets) | True: also random tickets (added to a run without them)
num_envs: int = 0  # games played in parallel; 0 keeps the preset's
device: str = "auto"  # torch device: auto (cuda where a GPU is visible, else cpu) | cpu | cuda
runs_dir: str = "data/runs"  # run directories; relative paths start at the repository root
workers: int = 2  # processes: whole seeds side by side, or each seed's random tickets beside its winning ones where that is sooner (1 or 3 seeds on 2)
overrides: dict = {}  # fields of the preset's AtariConfig to change, e.g. {"epochs": 2}
publish_to: str = ""  # if set (e.g. "data/results"), also write the run's small summary there, for the book

# %%
import plotly.express as px
import torch

from lthlib import experiment
from lthlib.analysis import learned
from lthlib.families import atari
from lthlib.lottery import level_dir
from lthlib.paths import resolve
from lthlib.plots import level_table, pruning_curve, random_policy_line, show

# Every parameter is checked here, before any training starts: unknown names and wrong types first.
log = experiment.check_parameters(globals(), "atari")  # the terminal under papermill, else None
config, lottery, seeds = experiment.from_parameters(atari.FAMILY, experiment.notebook_values(globals(), "atari"),
                                                    log=log)  # as `lth sweep` plans it

# %% [markdown]
# ## Run (or resume) the lottery

# %%
root = experiment.run(atari.FAMILY, config, lottery, seeds, runs_dir, workers, publish_to, log=log)

# %% [markdown]
# ## Pruning curve, against a random policy

# %%
results = experiment.shown_results(root, seeds, levels)
baseline = atari.random_policy(config)
if publish_to:
    atari.publish_random_policy(baseline, resolve(publish_to))
figure = pruning_curve(results, "reward", title=f"{config.game} · {variant} · {len(seeds)} seed(s)",
                       y_title=f"score (mean of last {config.last_episodes} games)")
show(random_policy_line(figure, baseline["reward"], digits=0))
has_learned, scores = learned(results[results.metric == "reward"], baseline["score_to_beat"])
rt = "" if scores["random"] != scores["random"] else f" and RT {scores['random']:.1f}"  # a run without random tickets: none
print(f"dense net {scores['dense']:.1f}, mean over levels WT {scores['winning']:.1f}{rt}; "
      f"random policy {baseline['reward']:.1f} ± {baseline['reward_std']:.1f} over {baseline['games']} games "
      f"(to beat: {baseline['score_to_beat']:.1f}): "
      + ("learned" if has_learned else "NOT clearly above a random policy: WT and RT compare noise with noise"))
level_table(results, "reward").round(1)

# %% [markdown]
# ## The sparsest winning ticket, playing
# Frames of one game (every 8th step) by the winning ticket of the last level.

# %%
last = int(results.level.max())
ticket = atari.build_model(config, seed=0)
ticket.load_state_dict(torch.load(level_dir(root, seeds[0], last) / "trained.pt", weights_only=True))
frames = atari.play(ticket, config)
clip = px.imshow(frames, animation_frame=0, binary_string=True, labels={"animation_frame": "frame"},
                 title=f"{config.game}: winning ticket at level {last} "
                       f"({results[results.level == last].fraction_pruned.mean():.1%} pruned)")
clip.update_layout(width=420, height=560, margin=dict(l=10, r=10, t=60, b=10))
show(clip)

# %% [markdown]
# ## What this run found
# Each effect with its interval over seeds, by the verdicts' rule (under papermill, on the terminal too).

# %%
experiment.say_findings(atari.FAMILY, results, log)
