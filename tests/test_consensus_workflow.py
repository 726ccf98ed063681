"""The consensus as the workflow runs it (lesionbench.consensus.case): config -> fusion parameters,
regions, the empty-consensus guard on every fusion, and the comparison with a known truth.

References are hand-worked: the 12-voxel, 3-rater example of docs/consensus.md (Anima
animaMultiThreadedSTAPLE semantics, numbers computed by hand from its E- and M-step formulas),
and small masks whose Dice, lesion F1 and volume error are counted by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from lesionbench.consensus.case import best_method, fuse_case, summarize_truth, truth_table
from lesionbench.consensus.settings import (
    ConsensusOptions,
    check_methods,
    method_params,
    needs_brain_mask,
    workflow_methods,
)
from lesionbench.errors import ConfigError, ConsensusError

REPO = Path(__file__).resolve().parents[1]


def three_raters() -> np.ndarray:
    """12 voxels in a row: R1 = {3,4,5,6}, R2 = {4,5,6,7}, R3 = {5,6}."""
    votes = np.zeros((3, 12, 1, 1), dtype=bool)
    votes[0, 3:7] = votes[1, 4:8] = votes[2, 5:7] = True
    return votes


def test_default_config_gives_anima_map_staple_on_the_dilated_union():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    options = ConsensusOptions.from_config(config["consensus"])
    fused = fuse_case(three_raters(), ["r1", "r2", "r3"], ["map-staple"], None, options, case="c1")["map-staple"]
    post = fused.result.posterior.ravel()
    # Region: union {3..7} dilated by 2 voxels -> {1..9}; prior 10/27; -D, alpha 5, beta 1.5, w 0.5.
    assert fused.result.prior == pytest.approx(10 / 27)
    np.testing.assert_allclose(post[[1, 3, 4, 5]], [0.000689, 0.052172, 0.814606, 0.997904], atol=1e-6)
    assert post[[0, 10, 11]].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(fused.result.sensitivity, [0.940991, 0.940991, 0.773255], atol=1e-6)
    np.testing.assert_allclose(fused.result.specificity, [0.833494, 0.833494, 0.969494], atol=1e-6)
    assert fused.result.iterations == 16
    assert np.flatnonzero(fused.result.binary().ravel()).tolist() == [4, 5, 6]
    table = fused.table
    assert table["region"].tolist() == ["union"] * 3 and table["flag"].tolist() == [""] * 3
    assert table["case_id"].tolist() == ["c1"] * 3
    # r3 = {5,6} against the fusion of r1 and r2 ({4,5,6}): Dice 2*2/(2+3).
    assert table.loc[2, "loo_dice"] == pytest.approx(0.8)
    assert len(fused.loo) == 3


def test_ml_mode_and_per_method_region():
    options = ConsensusOptions.from_config({"map_staple": {"mode": "ml"}, "regions": {"staple": "grid"}})
    assert method_params("map-staple", options)["map_mode"] is None
    fused = fuse_case(three_raters(), ["a", "b", "c"], ["map-staple", "staple"], None, options, case="c1", loo=False)
    # ML on the union: W4 = 0.826353 (hand-worked), voxel 3 ~ 0.
    assert fused["map-staple"].result.posterior.ravel()[4] == pytest.approx(0.826353, abs=1e-6)
    # staple on the whole grid (12 voxels): the region covers every voxel.
    assert fused["staple"].table["region"].iloc[0] == "grid"
    assert fused["staple"].result.n_voxels == 12
    assert fused["map-staple"].result.n_voxels == 9


def test_brain_mask_only_when_a_method_needs_it():
    union = ConsensusOptions()
    assert not needs_brain_mask(["map-staple", "majority"], union)
    assert needs_brain_mask(["map-staple", "majority"], ConsensusOptions(regions={"majority": "brain"}))
    assert needs_brain_mask(["staple"], ConsensusOptions(region="brain"))
    with pytest.raises(ConfigError, match="brain"):
        fuse_case(three_raters(), ["a", "b", "c"], ["staple"], None, ConsensusOptions(region="brain"), case="c1")


def five_of_seven() -> np.ndarray:
    """7 raters; r1..r5 mark one 2x2x2 blob, r6 and r7 nothing."""
    votes = np.zeros((7, 8, 4, 4), dtype=bool)
    votes[:5, 2:4, 1:3, 1:3] = True
    return votes


NAMES7 = [f"r{k}" for k in range(1, 8)]


def test_guard_stops_the_case_naming_case_and_method():
    # A majority threshold of 0.9 asks for 7 of 7: the consensus is empty although 5 of 7 raters
    # agree on 8 voxels, a misconfigured fusion the guard must stop.
    options = ConsensusOptions(majority_threshold=0.9, on_failure="stop")
    with pytest.raises(ConsensusError) as info:
        fuse_case(five_of_seven(), NAMES7, ["map-staple", "majority"], None, options, case="c07_test_p03")
    message = str(info.value)
    assert message.startswith("case c07_test_p03: consensus method majority: the consensus is empty")
    assert "5 of 7 raters" in message
    assert info.value.case == "c07_test_p03"
    # the default threshold (more than half: 4 of 7) keeps the blob
    fused = fuse_case(five_of_seven(), NAMES7, ["majority"], None, ConsensusOptions(), case="c1")
    assert fused["majority"].result.binary().sum() == 8 and fused["majority"].flags == []


def test_guard_checks_leave_one_out_fusions():
    # threshold 0.7: 3 of 4 raters pass, 2 of 3 do not. r1, r2, r3 = {5}, r4 = {6}.
    votes = np.zeros((4, 10, 1, 1), dtype=bool)
    votes[:3, 5] = True
    votes[3, 6] = True
    options = ConsensusOptions(majority_threshold=0.7)
    assert fuse_case(votes, ["r1", "r2", "r3", "r4"], ["majority"], None, options, loo=False)["majority"].flags == []
    # without r1, voxel 5 has 2 of 3 votes (a majority) but not 0.7 of them: empty, stopped.
    with pytest.raises(ConsensusError, match="case c1: consensus method majority without r1: the consensus is empty"):
        fuse_case(votes, ["r1", "r2", "r3", "r4"], ["majority"], None, options, case="c1")


def test_guard_flag_policy_keeps_the_consensus_and_says_why():
    options = ConsensusOptions(majority_threshold=0.9, on_failure="flag")
    result = fuse_case(five_of_seven(), NAMES7, ["majority"], None, options, case="c1")["majority"]
    assert not result.result.binary().any()
    assert (
        result.flags[0]
        == "case c1: consensus method majority: the consensus is empty although 5 of 7 raters marked lesions"
    )
    assert (result.table["flag"] != "").all()


def test_raters_without_a_majority_voxel_are_flagged_not_stopped():
    # 7 raters, each its own 2x2x2 blob: no voxel has more than 1 vote, the empty majority vote
    # agrees with them; even with on_failure.consensus: stop it is only flagged.
    votes = np.zeros((7, 20, 4, 4), dtype=bool)
    for k in range(7):
        votes[k, 2 * k + 1 : 2 * k + 3, 1:3, 1:3] = True
    result = fuse_case(votes, NAMES7, ["majority"], None, ConsensusOptions(on_failure="stop"), case="c1")["majority"]
    assert not result.result.binary().any()
    assert result.flags[0].endswith("(no voxel is marked by more than half of the raters)")


def test_unknown_method_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="'vote-of-two'"):
        check_methods(["staple", "vote-of-two"])
    with pytest.raises(ConfigError, match="'loop-staple'"):
        workflow_methods({"methods": ["staple"], "reference": "loop-staple"})
    assert workflow_methods({"methods": ["staple"], "reference": "majority"}) == ["staple", "majority"]
    with pytest.raises(ConfigError, match=r"on_failure\.consensus"):
        ConsensusOptions.from_config({}, on_failure="ignore")
    with pytest.raises(ConfigError, match="regions names unknown"):
        ConsensusOptions.from_config({"regions": {"vote": "grid"}})
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["consensus"]["methods"] = ["map-staple", "vote-of-two"]
    with pytest.raises(jsonschema.ValidationError, match="'vote-of-two'"):
        jsonschema.validate(config, schema)


def test_workflow_parse_fails_on_an_unknown_method(tmp_path):
    """The real parse (snakemake -n) stops before any job, naming the method."""
    configfile = tmp_path / "bad.yaml"
    configfile.write_text("consensus:\n  methods: [map-staple, vote-of-two]\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1", "--configfile", str(configfile)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode != 0
    assert "vote-of-two" in result.stdout + result.stderr


def test_truth_table_hand_counts():
    truth = np.zeros((12, 6, 6), dtype=bool)
    truth[1:3, 1:3, 1:3] = True  # lesion A, 8 voxels
    truth[7:9, 1:3, 1:3] = True  # lesion B, 8 voxels
    rater = np.zeros_like(truth)
    rater[1:3, 1:3, 1:3] = True  # finds A only
    fusion = truth.copy()
    fusion[7:9, 3, 1:3] = True  # A and B, B grown by 4 voxels (one lesion, 12 voxels)
    table = truth_table(rater[None], ["r1"], {"majority": fusion}, truth, (1.0, 1.0, 1.0), case="c1")
    r = table.set_index("entry")
    # rater: Dice 2*8/(8+16); lesions 1/2 found, 1/1 correct -> F1 2*0.5*1/1.5; RVE 100*(8-16)/16
    assert r.loc["r1", "dice"] == pytest.approx(2 / 3)
    assert r.loc["r1", "lesion_sensitivity"] == pytest.approx(0.5)
    assert r.loc["r1", "lesion_precision"] == pytest.approx(1.0)
    assert r.loc["r1", "lesion_f1"] == pytest.approx(2 / 3)
    assert r.loc["r1", "relative_volume_error_pct"] == pytest.approx(-50.0)
    assert r.loc["r1", "volume_ml"] == pytest.approx(0.008)
    # fusion: Dice 2*16/(16+20); both lesions found; RVE 100*(20-16)/16
    assert r.loc["consensus_majority", "dice"] == pytest.approx(32 / 36)
    assert r.loc["consensus_majority", "lesion_f1"] == pytest.approx(1.0)
    assert r.loc["consensus_majority", "relative_volume_error_pct"] == pytest.approx(25.0)
    assert r.loc["consensus_majority", "kind"] == "consensus"
    assert table["case_id"].tolist() == ["c1", "c1"]


def test_truth_table_drops_lesions_of_3_mm3_or_less():
    truth = np.zeros((10, 5, 5), dtype=bool)
    truth[1:3, 1:3, 1:3] = True  # 8 mm3
    rater = truth.copy()
    rater[6, 2, 1:4] = True  # a 3 mm3 false positive: at the limit, dropped lesion-wise
    table = truth_table(rater[None], ["r1"], {}, truth, (1.0, 1.0, 1.0)).set_index("entry")
    assert table.loc["r1", "lesion_precision"] == pytest.approx(1.0)
    assert table.loc["r1", "dice"] == pytest.approx(16 / 19)


def test_summarize_truth_median_rater_and_best_method():
    rows = []
    # Two cases; three raters with hand-picked scores; two fusions.
    for case, rater_dice, fusions in (
        ("a", [0.5, 0.6, 0.9], {"majority": 0.7, "staple": 0.55}),
        ("b", [0.4, 0.8, 0.2], {"majority": 0.5, "staple": 0.5}),
    ):
        for k, d in enumerate(rater_dice):
            rows.append(
                {
                    "case_id": case,
                    "entry": f"r{k}",
                    "kind": "rater",
                    "dice": d,
                    "lesion_f1": d,
                    "voxel_sensitivity": 0.5,
                    "estimated_sensitivity_majority": 0.6,
                }
            )
        for m, d in fusions.items():
            rows.append(
                {"case_id": case, "entry": f"consensus_{m}", "kind": "consensus", "dice": d, "lesion_f1": 1 - d}
            )
    table = pd.DataFrame(rows)
    for column in (
        "lesion_sensitivity",
        "lesion_precision",
        "relative_volume_error_pct",
        "abs_relative_volume_error_pct",
        "volume_ml",
    ):
        table[column] = 1.0
    summary = summarize_truth(table).set_index("entry")
    # median rater: case a 0.6, case b 0.4 -> mean 0.5
    assert summary.loc["median rater", "mean_dice"] == pytest.approx(0.5)
    assert summary.loc["consensus_majority", "mean_dice"] == pytest.approx(0.6)
    assert summary.loc["consensus_majority", "beats_median_rater_dice"] == pytest.approx(1.0)
    assert summary.loc["consensus_staple", "beats_median_rater_dice"] == pytest.approx(0.5)
    assert summary.loc["consensus_majority", "sensitivity_estimate_mae"] == pytest.approx(0.1)
    assert summary.loc["r1", "mean_dice"] == pytest.approx(0.7)
    assert list(summary.index[:3]) == ["consensus_majority", "consensus_staple", "median rater"]
    assert best_method(summary.reset_index()) == "majority"
    # Dice tie (to 3 decimals) -> higher lesion F1 wins.
    tie = summary.reset_index()
    tie.loc[tie["entry"] == "consensus_staple", "mean_dice"] = 0.6002
    assert best_method(tie) == "staple"


# ----------------------------------------------------------------------------------------------
# The demo cohort (14 cases), raters and truth built by the simulator directly (no snakemake)

DEMO_METHODS = ("map-staple", "lop-staple", "local-lop-staple", "majority")


def demo_cohort_scores() -> dict[str, dict[str, float]]:
    """Per demo case: Dice to the truth of the median rater and of each fusion (default options,
    guard on), each fusion's volume (voxels) and its guard flags."""
    from lesionbench.synth import plan_cohort, simulate_case
    from lesionbench.synth.anatomy import load_template_anatomy
    from lesionbench.synth.plan import PRESETS

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    options = ConsensusOptions.from_config(config["consensus"])  # defaults: union region, guard "stop"
    anatomy = load_template_anatomy(PRESETS["demo"].anatomy_mm)
    scores = {}
    for plan in plan_cohort("demo", 2016, 7):
        sim = simulate_case(plan, "demo", 7, anatomy)
        votes = np.stack(sim.raters)
        fused = fuse_case(votes, [f"r{k}" for k in range(7)], DEMO_METHODS, None, options, case=plan.case_id, loo=False)
        truth = sim.truth_mask

        def dice(mask):
            return 2.0 * np.count_nonzero(mask & truth) / (np.count_nonzero(mask) + np.count_nonzero(truth))  # noqa: B023

        scores[plan.case_id] = {
            "median_rater": float(np.median([dice(v) for v in votes])),
            **{m: dice(f.result.binary()) for m, f in fused.items()},
            **{f"{m}_voxels": int(f.result.binary().sum()) for m, f in fused.items()},
            "flags": [flag for f in fused.values() for flag in f.flags],
        }
    return scores


@pytest.fixture(scope="module")
def demo_scores():
    return demo_cohort_scores()


def has_majority_voxel(scores: dict) -> bool:
    return not any(flag.endswith("(no voxel is marked by more than half of the raters)") for flag in scores["flags"])


@pytest.mark.slow
def test_demo_lop_and_map_staple_are_not_empty(demo_scores):
    # fuse_case ran the guard (on_failure.consensus: stop) on every fusion of every case: none stopped.
    assert len(demo_scores) == 14
    for case, s in demo_scores.items():
        assert s["lop-staple_voxels"] > 0, case
        # MAP-STAPLE may be empty only where no voxel has a majority of votes (then flagged).
        # Before the demo preset had a lesion-load floor (1 ml) case c08_test_p01 was such a case
        # (8 true voxels, at most 2 votes on any voxel); now every demo case has a majority voxel.
        assert s["map-staple_voxels"] > 0 or not has_majority_voxel(s), case
    assert [c for c, s in demo_scores.items() if not has_majority_voxel(s)] == []


@pytest.mark.slow
@pytest.mark.parametrize("method", ["majority", "local-lop-staple"])
def test_demo_consensus_beats_the_median_rater_on_every_case(demo_scores, method):
    scored = {c: s for c, s in demo_scores.items() if has_majority_voxel(s)}
    worse = {
        c: (round(s[method], 3), round(s["median_rater"], 3))
        for c, s in scored.items()
        if s[method] <= s["median_rater"]
    }
    assert not worse, f"{method} Dice <= median rater Dice on {worse}"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lop-staple", "map-staple"])
def test_demo_global_staple_family_beats_the_median_rater_on_average(demo_scores, method):
    mean = np.mean([s[method] for s in demo_scores.values()])
    median_rater = np.mean([s["median_rater"] for s in demo_scores.values()])
    assert mean > median_rater


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason=(
        "measured: on some demo cases (1 of 14 for LOP, 3 for MAP), the global STAPLE-family fusions "
        "keep voxels marked by 2 or 3 of 7 raters, about twice the majority vote's volume, and their Dice "
        "falls below the median rater's; strict, so that a change shows"
    ),
)
@pytest.mark.parametrize("method", ["lop-staple", "map-staple"])
def test_demo_global_staple_family_beats_the_median_rater_on_every_case(demo_scores, method):
    scored = [s for s in demo_scores.values() if has_majority_voxel(s)]
    assert all(s[method] > s["median_rater"] for s in scored)
