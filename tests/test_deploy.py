"""The workflow as others use it: deployed with snakedeploy and run as a Snakemake module.

`snakedeploy deploy-workflow` copies `config/`, `profiles/` and `LICENSE` of a source into an
empty folder and writes a `workflow/Snakefile` that declares lesionbench as a module and uses all
its rules. The source here is a copy of this checkout's files as git sees them (tracked and
untracked, not ignored: no venv, no results), committed in a fresh repository, so the test covers
the working tree. In that folder (no `src/`, no `tests/`) a dry run must plan the default
config's jobs, and the one rule that reads the workflow's own folder (provenance) must find the
module's source, not the deploying folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEDEPLOY = [sys.executable, "-c", "from snakedeploy.client import main; main()"]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
#: Jobs of the default config (the embedded 14-case demo cohort), as `make dryrun` plans them on
#: 2 cores (the scoring batches follow the cores: metrics.batch_size auto).
DEFAULT_JOBS = 144
#: What the Snakefile must not import while Snakemake parses it (README: "What the Snakemake host
#: environment needs"): lesionbench's other dependencies and its extras. The dry run below runs
#: with these blocked, so the host environment needs only Snakemake, lesionbench, numpy and pandas
#: to plan the workflow.
NOT_AT_PARSE_TIME = (
    "scipy",
    "nibabel",
    "matplotlib",
    "nilearn",
    "SimpleITK",
    "ants",
    "sklearn",
    "torch",
    "monai",
    "seaborn",
    "statsmodels",
)
SNAKEMAKE_WITHOUT = f"""
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {NOT_AT_PARSE_TIME!r}:
            raise ModuleNotFoundError(f"{{name}} imported while Snakemake parses the workflow")
        return None

sys.meta_path.insert(0, Blocked())
from snakemake.cli import main
main()
"""
GIT = ["git", "-c", "user.name=lesionbench-test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false"]


def _run(cmd: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_")} | (extra_env or {})
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _source_snapshot(dest: Path) -> str:
    """This checkout's files (as git lists them) in a fresh one-commit repository; its commit."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree but still in the index
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    _run([*GIT, "init", "--quiet"], dest)
    _run([*GIT, "add", "--all"], dest)
    _run([*GIT, "commit", "--quiet", "-m", "snapshot"], dest)
    return _run(["git", "rev-parse", "HEAD"], dest).stdout.strip()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    source = tmp_path_factory.mktemp("source") / "lesionbench"
    commit = _source_snapshot(source)
    dest = tmp_path_factory.mktemp("deployed")
    _run([*SNAKEDEPLOY, "deploy-workflow", str(source), str(dest), "--name", "lesionbench", "--branch", "main"], dest)
    return source, dest, commit


@pytest.mark.slow
def test_snakedeploy_writes_a_module_deployment(deployed: tuple[Path, Path, str]) -> None:
    source, dest, _ = deployed
    assert (dest / "config" / "config.yaml").read_text() == (REPO / "config" / "config.yaml").read_text()
    assert (dest / "config" / "README.md").is_file()
    assert (dest / "profiles" / "default" / "config.yaml").is_file()
    assert (dest / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
    snakefile = (dest / "workflow" / "Snakefile").read_text()
    assert "module lesionbench:" in snakefile
    assert "use rule * from lesionbench" in snakefile
    assert not (dest / "src").exists() and not (dest / "workflow" / "rules").exists()


def _point_module_at(dest: Path, source: Path) -> None:
    """snakedeploy writes a hosted source as `github("owner/lesionbench", path=..., tag=...)`; for
    a local source it writes the bare `"workflow/Snakefile"`, which Snakemake resolves against the
    deploying Snakefile's own folder. The module is pointed at the source's Snakefile by its
    absolute path, which Snakemake loads like any module source."""
    snakefile = dest / "workflow" / "Snakefile"
    text = snakefile.read_text()
    assert text.count('"workflow/Snakefile"') == 1, text
    snakefile.write_text(text.replace('"workflow/Snakefile"', json.dumps(str(source / "workflow" / "Snakefile"))))


@pytest.mark.slow
def test_deployed_workflow_dry_runs_and_records_its_source(deployed: tuple[Path, Path, str]) -> None:
    source, dest, commit = deployed
    _point_module_at(dest, source)

    # with --sdm conda (the conda stand-in of tests/conda on PATH; nothing is built in a dry run)
    # the rules' envs are the module's env files
    conda_prefix = dest / "conda-envs"
    standin = {
        "PATH": f"{source / 'tests' / 'conda' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_CONDA_PYTHON": sys.executable,
    }
    dry = _run(
        [
            sys.executable,
            "-c",
            SNAKEMAKE_WITHOUT,
            "-n",
            "--cores",
            "2",
            "--sdm",
            "conda",
            "--conda-prefix",
            str(conda_prefix),
        ],
        dest,
        standin,
    )
    # the job stats are printed before and after the job list
    totals = {line.split()[1] for line in dry.stdout.splitlines() if line.startswith("total ")}
    assert totals == {str(DEFAULT_JOBS)}, dry.stdout[-2000:]
    assert "profiles/default" in dry.stdout + dry.stderr  # the deployed workstation profile is used
    named = re.findall(r"Conda environment (\S+) will be created", dry.stdout + dry.stderr)
    envs = {(dest / name).resolve() for name in named}
    assert (source / "workflow" / "envs" / "core.yaml").resolve() in envs, named
    assert {env.parent for env in envs} == {(source / "workflow" / "envs").resolve()}, named
    assert not conda_prefix.exists() or not any(conda_prefix.iterdir())

    # provenance records the git state of the module's source, not of the deploying folder
    _run([*SNAKEMAKE, "--cores", "1", "results/provenance.json"], dest)
    record = json.loads((dest / "results" / "provenance.json").read_text())
    assert record["git"]["commit"] == commit
    assert not (dest / "src").exists()


def test_catalog_description() -> None:
    """The Snakemake workflow catalog's standardized layout: `workflow/Snakefile`, `config/README.md`
    and `.snakemake-workflow-catalog.yml` with the usage it displays; the license is the one
    pyproject.toml declares."""
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = catalog["usage"]
    assert usage["software-stack-deployment"]["conda"] is True
    assert usage["report"] is True
    assert usage["mandatory-flags"]["desc"].strip()
    assert (REPO / "workflow" / "Snakefile").is_file()
    assert (REPO / "config" / "README.md").is_file()
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert 'license = { text = "MIT" }' in (REPO / "pyproject.toml").read_text()
