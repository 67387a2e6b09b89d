"""The anatomy of masks: overlap against chance, sign flips, inputs kept, on known masks and a real smoke run."""

import json

import pytest
import torch

from lthlib import Lottery, run_lottery
from lthlib.anatomy import anatomy, iou, load_anatomy, main, random_iou, sign_flips
from lthlib.families import classic_control as C
from lthlib.masks import Mask


def test_overlap_is_one_for_a_mask_with_itself_zero_for_disjoint_ones_and_chance_for_random_ones():
    g = torch.Generator().manual_seed(0)
    a = Mask({"w": torch.rand(200, 300, generator=g) < 0.3, "b": torch.ones(300, dtype=torch.bool)})
    assert iou(a, a) == 1.0
    assert iou(Mask({"w": a["w"]}), Mask({"w": ~a["w"]})) == 0.0
    b = Mask({"w": torch.rand(200, 300, generator=g) < 0.3, "b": torch.rand(300, generator=g) < 0.5})
    # two independent random masks: the expectation, sum n p_a p_b / sum n (p_a + p_b - p_a p_b), to sampling error
    assert iou(a, b) == pytest.approx(random_iou(a, b), abs=0.005)
    assert random_iou(a, b) == pytest.approx((60_000 * 0.09 + 150) / (60_000 * 0.51 + 300), abs=0.003)


def test_sign_flips_count_the_surviving_weights_whose_sign_changed():
    init = {"w": torch.tensor([1.0, -1.0, 2.0, -2.0])}
    trained = {"w": torch.tensor([-0.5, -3.0, 1.0, 4.0])}  # flipped: 0 and 3
    assert sign_flips(trained, init, Mask({"w": torch.tensor([True, True, True, True])})) == 0.5
    assert sign_flips(trained, init, Mask({"w": torch.tensor([False, True, True, False])})) == 0.0


def test_a_run_directorys_anatomy_is_published_beside_its_summary(tmp_path, capsys):
    config = C.config("CartPole-v0", "smoke")
    root = run_lottery(C.FAMILY, config, Lottery(levels=2), seeds=[0, 1, 2], runs_dir=tmp_path / "runs",
                       progress=False, threads=1)
    reset = run_lottery(C.FAMILY, config, Lottery(variant="iterative-reset", levels=2, random_tickets=False),
                        seeds=[0, 1, 2], runs_dir=tmp_path / "runs", progress=False, threads=1)
    record = anatomy(root, (reset,))
    assert record["input_names"] == ["cart position", "cart velocity", "pole angle", "pole angular velocity"]
    level_2 = record["levels"][2]
    assert level_2["fraction_pruned"] == pytest.approx(0.36, abs=0.01) and level_2["seeds"] == 3
    assert len(level_2["inputs_kept"]) == 4 and 0 < min(level_2["inputs_kept"]) <= 1
    assert 0 <= level_2["sign_flips"] <= 1 and level_2["random_iou"] < 1
    level_1 = record["levels"][1]  # the same dense net and initialization: level 1's masks are the same
    assert level_1["iou_with_iterative-reset"] == 1.0
    assert main([str(root), str(reset), "--publish-to", str(tmp_path / "results")]) == 0
    published = load_anatomy(tmp_path / "results")
    assert published.level.tolist() == [0, 1, 2] and set(published.run) == {root.name}
    assert json.loads(next((tmp_path / "results").rglob("*.anatomy.json")).read_text())["task"] == "CartPole-v0"
