"""GPU requests follow the config, not the host that runs Snakemake, and the SLURM profile maps
them to a GPU partition. The real submission (--gpus=1 on partition gpu) is checked by
tests/cluster/run_slurm_test.sh on a single-node SLURM cluster."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE

PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
CPU_RULES = ("train_method_unet", "infer_method_unet")
GPU_RULES = ("train_method_unet_gpu", "infer_method_unet_gpu")
UNET_RULES = CPU_RULES + GPU_RULES


def dry_run_resources(tmp_path: Path, *configs: str) -> dict[str, set[str]]:
    """The resources line of every U-Net job in a dry run, on a host that shows no GPU."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    files = [str(REPO / "config" / "config.yaml"), str(REPO / "tests" / "configs" / "tiny.yaml")]
    files += [str(REPO / c) for c in configs]
    cmd = [*SNAKEMAKE, "-n"]
    cmd += ["--directory", str(tmp_path), "--cores", "1", "--configfile", *files]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    found: dict[str, set[str]] = {rule: set() for rule in UNET_RULES}
    for block in re.split(r"\n\s*(?=\[)", out):  # a group job's jobs are indented
        rule = re.search(r"rule (\w+):", block)
        resources = re.search(r"resources: (.*)", block)
        if rule and resources and rule.group(1) in found:
            found[rule.group(1)].add(resources.group(1))
    return found


@pytest.mark.slow
def test_unet_rules_request_a_gpu_when_the_config_asks(tmp_path):
    asked = dry_run_resources(tmp_path / "gpu", "tests/cluster/gpu.yaml")
    plain = dry_run_resources(tmp_path / "cpu")
    # a GPU U-Net runs only in the *_gpu rules, with gpu=1; a CPU U-Net never in them
    for cpu_rule, gpu_rule in zip(CPU_RULES, GPU_RULES):
        assert asked[gpu_rule] and all("gpu=1" in r.split(", ") for r in asked[gpu_rule]), asked
        assert not asked[cpu_rule], asked
        assert plain[cpu_rule] and all("gpu=0" in r.split(", ") for r in plain[cpu_rule]), plain
        assert not plain[gpu_rule], plain


def test_gpu_config_asks_with_device_auto():
    methods = yaml.safe_load((REPO / "tests" / "cluster" / "gpu.yaml").read_text())["methods"]
    unet = next(m for m in methods if m["kind"] == "unet3d")
    assert unet["device"] == "auto" and unet["gpu"] is True


def test_slurm_profile_maps_gpu_rules_and_keeps_test_settings_out():
    profile = yaml.safe_load(PROFILE.read_text())
    for rule in GPU_RULES:
        assert profile["set-resources"][rule]["slurm_partition"] == "gpu"
        assert profile["set-resources"][rule]["cpus_per_gpu"] >= 1
    # a U-Net on CPU is not sent to the GPU partition
    assert not set(CPU_RULES) & set(profile["set-resources"])
    # the time limit grows with each retry, like the memory
    assert "attempt" in profile["default-resources"]["runtime"]
    assert "attempt" in profile["default-resources"]["mem_mb"]
    # settings of the test cluster (no accounting daemon) live in tests/cluster/, not here
    assert not any(key.startswith(("slurm-status", "slurm-init")) for key in profile)


def group_jobs(tmp_path: Path) -> list[tuple[str, list[str], set[str]]]:
    """(group, rules, case wildcards) of every group job in a dry run of ``tiny`` (1 core: each
    scoring batch holds one case)."""
    files = [str(REPO / "config" / "config.yaml"), str(REPO / "tests" / "configs" / "tiny.yaml")]
    cmd = [*SNAKEMAKE, "-n", "--directory", str(tmp_path), "--cores", "1", "--configfile", *files]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    groups: list[tuple[str, list[str], set[str]]] = []
    current: tuple[str, list[str], set[str]] | None = None
    for line in out.splitlines():
        header = re.match(r"\[[^\]]*\] Group job (\w+)", line)
        if header:
            current = (header.group(1), [], set())
            groups.append(current)
        elif line.startswith(("[", "Job stats")):
            current = None  # the next job outside any group, or the summary
        elif current is not None:
            rule = re.match(r"\s+(?:local)?rule (\w+):", line)
            if rule:
                current[1].append(rule.group(1))
            current[2].update(re.findall(r"^\s+wildcards: case=([\w-]+)", line))
    return groups


@pytest.mark.slow
def test_scoring_batches_join_their_cases_group_job(tmp_path):
    """A training case's scoring (raters against the fusions) runs in its case_prep job; a test
    case's after inference in its case_eval job: no job of its own on a cluster."""
    groups = group_jobs(tmp_path)
    scoring = [(name, cases) for name, rules, cases in groups if "evaluate_batch" in rules]
    assert len(scoring) == 4, groups
    for name, cases in scoring:
        assert len(cases) == 1, groups
        assert name == ("case_prep" if "_train_" in next(iter(cases)) else "case_eval"), groups
    assert sorted(name for name, _, _ in groups) == ["case_eval"] * 2 + ["case_prep"] * 4 + ["harmonize"]
