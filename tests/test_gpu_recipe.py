"""The paper presets' GPU recipe, tested on this CPU: mixed precision and fairseq's effective batch."""

import dataclasses
import math
import os
from pathlib import Path

import pytest
import torch

from lthlib import Mask, MaskedTraining, prune_global
from lthlib.families import lstm_lm, transformer_mt as T, translation_data as D, wikitext2
from lthlib.precision import Stepper, default_precision, native_bf16_cpu

SHARED = Path(__file__).parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "multi30k" / "train.en").exists() and not os.environ.get("CI"),
                                reason=f"Multi30k and WikiText-2 not at {SHARED}")


@pytest.fixture(autouse=True)
def shared_data(monkeypatch):
    monkeypatch.setenv("LTH_MULTI30K_DIR", str(SHARED / "multi30k"))
    monkeypatch.setenv(wikitext2.DATA_ENV_VAR, str(SHARED / "wikitext-2"))


@needs_data
def test_the_paper_presets_on_cuda_default_to_bf16_and_fp16_needs_cuda(monkeypatch):
    assert default_precision("paper", "cpu") == default_precision("cpu", "cuda") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_precision("paper", "cuda") == "bf16"  # planned on a head node without a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_precision("paper", "cuda:1") == "fp16"  # a GPU without bf16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert default_precision("paper", "cuda") == "bf16"
    with pytest.raises(ValueError, match="precision 'fp16' needs a CUDA device"):
        T.config("", "smoke", precision="fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        T.config("", "smoke", precision="fp8")


@needs_data
@pytest.mark.parametrize("family", ["lstm", "transformer"])
def test_masked_weights_stay_exactly_zero_under_bf16_autocast(family):
    if family == "lstm" and not native_bf16_cpu():
        pytest.skip("this CPU has no bf16 arithmetic, so torch's CPU LSTM has no bf16 kernel (the config refuses it)")
    cfg = lstm_lm.config("smoke", precision="bf16") if family == "lstm" else T.config("", "smoke", precision="bf16")
    module = lstm_lm if family == "lstm" else T
    model = module.build_model(cfg, 0)
    mask = prune_global(model.state_dict(), Mask.ones(model), 0.5)
    mask.apply(model)
    result = module.train(model, mask, cfg, seed=0)
    assert all(math.isfinite(v) for v in result["metrics"].values())
    for name, keep in mask.items():
        assert (dict(model.named_parameters())[name].detach()[~keep] == 0).all(), name


@needs_data
def test_the_lstm_refuses_bf16_on_a_cpu_without_bf16_arithmetic(monkeypatch):
    monkeypatch.setattr(lstm_lm, "native_bf16_cpu", lambda: False)
    with pytest.raises(ValueError, match="'precision' is 'bf16', but this CPU has no bf16 arithmetic"):
        lstm_lm.config("smoke", precision="bf16")
    assert lstm_lm.config("smoke").precision == "fp32"  # the default is unaffected
    monkeypatch.setattr(lstm_lm, "native_bf16_cpu", lambda: True)
    assert lstm_lm.config("smoke", precision="bf16").precision == "bf16"


def test_a_stepper_without_scaler_steps_and_clips_like_plain_torch():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4)
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    stepper = Stepper(opt_a, "fp32")
    stepper.backward(a(x).pow(2).sum())
    stepper.step(a.parameters(), max_grad_norm=0.5)
    b(x).pow(2).sum().backward()
    torch.nn.utils.clip_grad_norm_(b.parameters(), 0.5)
    opt_b.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@needs_data
def test_gradients_accumulated_over_sub_batches_equal_the_gradient_of_their_union():
    cfg = T.config("", "smoke", dropout=0.0, update_freq=3)
    data = D.corpus(cfg)
    model = T.build_model(cfg, 0)
    indices = D.token_batches(data.train, cfg.max_tokens, torch.Generator().manual_seed(0))[:3]
    masking = MaskedTraining(model, Mask.ones(model))

    def gradients(sub_batches):
        model.zero_grad(set_to_none=True)
        loss = T.accumulate_gradients(model, sub_batches, cfg, Stepper(torch.optim.SGD(model.parameters(), lr=0.0), "fp32"))
        return loss, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    loss_k, accumulated = gradients([D.make_batch(data.train, i, "cpu") for i in indices])
    loss_1, union = gradients([D.make_batch(data.train, [j for i in indices for j in i], "cpu")])
    masking.remove()
    assert loss_k == pytest.approx(loss_1, rel=1e-5)
    assert accumulated.keys() == union.keys()
    for name in union:
        torch.testing.assert_close(accumulated[name], union[name], rtol=1e-4, atol=1e-6, msg=name)


@needs_data
def test_linear_layers_start_as_fairseq_initialises_them():
    cfg = T.config("Multi30k", "smoke")
    assert cfg.xavier_init and T.config("Multi30k", "paper").xavier_init
    model = T.build_model(cfg, 0)
    linear = model.encoder.layers[0].linear1
    bound = math.sqrt(6 / (linear.in_features + linear.out_features))
    assert linear.weight.abs().max() <= bound and linear.weight.abs().max() > 0.9 * bound
    assert (linear.bias == 0).all()


def test_the_gpu_check_says_there_is_no_gpu_and_exits_0():
    import subprocess
    import sys

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: run bench/gpu_check.py itself")
    out = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "bench" / "gpu_check.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "no CUDA GPU here" in out.stdout


@needs_data
def test_two_gloo_ranks_train_a_ticket_as_one_process_does_at_the_same_effective_batch():
    """Data parallelism on this CPU (gloo, 2 processes): each rank takes 2 of an update's 4 sub-batches;
    the ticket ends with the weights, the loss curve and the BLEU of single-process training (dropout off,
    so that both draw nothing at random), and its pruned weights stay exactly zero on every rank."""
    cfg = T.config("", "smoke", dropout=0.0, update_freq=4, updates=4, checkpoint_every=2)
    results, weights = [], []
    for ranks in (1, 2):
        model = T.build_model(cfg, 0)
        mask = prune_global(dict(model.named_parameters()), Mask.ones(model), 0.5)
        results.append(T.train(model, mask, dataclasses.replace(cfg, ranks=ranks), 5))
        weights.append(model.state_dict())
    (single, parallel), (w1, w2) = results, weights
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-4, atol=1e-6, msg=name)
        if name in mask:
            assert (w2[name][~mask[name]] == 0).all(), name
    assert parallel["history"]["train_loss"] == pytest.approx(single["history"]["train_loss"], rel=1e-5)
    assert parallel["stats"]["samples"] == single["stats"]["samples"]
    assert (single["stats"]["ranks"], parallel["stats"]["ranks"]) == (1, 2)
    assert parallel["metrics"]["bleu"] == pytest.approx(single["metrics"]["bleu"], abs=1e-6)


def test_ranks_must_split_the_sub_batches_evenly():
    with pytest.raises(ValueError, match="ranks .2. must divide update_freq .3."):
        T.config("", "smoke", update_freq=3, ranks=2)


@needs_data
def test_a_sweep_task_given_several_gpus_trains_each_ticket_on_all_of_them(tmp_path):
    from lthlib.sweep import plan

    grid = plan("transformer_mt", ["Multi30k"], seeds=(0,), preset="smoke", runs_dir=tmp_path, levels=1, local=False,
                gpus_per_task=2, device="auto", overrides={"update_freq": 2})
    assert not grid[0].error
    # the notebook trains what was planned, in the planner's precision
    assert grid[0].parameters["overrides"] == {"update_freq": 2, "ranks": 2, "precision": grid[0].config.precision}
    one_gpu = plan("transformer_mt", ["Multi30k"], seeds=(0,), preset="smoke", runs_dir=tmp_path, levels=1, local=False,
                   gpus_per_task=1, device="auto", overrides={"update_freq": 2})
    assert one_gpu[0].root != grid[0].root  # ranks are in the run's hash


def test_gpu_hours_follow_the_flops_of_each_paper_preset():
    import dataclasses as dc

    from lthlib.gpu_estimate import gpu_hours_per_ticket
    from lthlib.presets import gpu_table

    def arch(name):
        d, f, h, n, p = T.ARCHS[name]
        return dc.asdict(T.TransformerConfig(arch=name, d_model=d, ffn_dim=f, heads=h, layers=n, dropout=p))

    base, big = gpu_hours_per_ticket("transformer_mt", arch("base")), gpu_hours_per_ticket("transformer_mt", arch("big"))
    assert 3.0 < big / base < 4.0  # ~3.5x the multiply-adds per token at the same tokens
    assert 0.3 < base < 1.5  # 50,000 updates of 25k tokens at 200 TFLOP/s
    assert gpu_hours_per_ticket("transformer_mt", {**arch("base"), "update_freq": 8}) == pytest.approx(8 * base)
    assert gpu_hours_per_ticket("classic_control", {}) is None
    table = gpu_table()
    assert "Transformer Big" in table and "one 8-GPU node" in table
    assert "| 372 |" in table  # 3 seeds x (2 runs x 41 tickets + 2 ablations x 21, without random tickets)
