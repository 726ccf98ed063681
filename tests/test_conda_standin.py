"""The conda stand-in (tests/conda) driven by Snakemake's own conda deployment (``--sdm conda``).

A small workflow in a temporary folder, one rule per env file, each env built by the stand-in:

- an env whose ``pip:`` section names a path relative to the env file (as ``-e ..`` did) fails
  to build: Snakemake hands conda a copy of the env file in its conda prefix, and pip runs from
  that copy's folder;
- an env that pins a package found through ``PIP_FIND_LINKS`` (as lesionbench's envs pin
  ``lesionbench==<version>``) builds and its rule's script imports the package;
- an env that lacks the package fails its rule with ``ModuleNotFoundError``. The package
  (``lbprobe``, made here) is on no host path: the script preamble appends the Snakemake
  process's whole sys.path, so a module of the host would hide the missing env entry.

The stand-in's reading of env files agrees with PyYAML's on every workflow env, and its answers
to ``--version`` / ``info --json`` pass Snakemake's checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.version import Version
from snakemake.deployment.conda import MIN_CONDA_VER

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "conda"
sys.path.insert(0, str(STANDIN))
import standin_conda  # noqa: E402

SNAKEFILE = """
rule all:
    input: "with.txt"

rule with_probe:
    output: "with.txt"
    conda: "envs/with.yaml"
    script: "probe.py"

rule without_probe:
    output: "without.txt"
    conda: "envs/without.yaml"
    script: "probe.py"

rule relative_path:
    output: "relative.txt"
    conda: "envs/relative.yaml"
    script: "probe.py"
"""
PROBE = """
import lbprobe
with open(snakemake.output[0], "w") as out:
    out.write(f"{lbprobe.VALUE}\\n")
"""
ENV = """channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
{pip}"""


def make_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel of ``lbprobe`` 1.0 (VALUE = 42)."""
    files = {
        "lbprobe/__init__.py": "VALUE = 42\n",
        "lbprobe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: lbprobe\nVersion: 1.0\n",
        "lbprobe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("lbprobe-1.0.dist-info/RECORD,,")
    files["lbprobe-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / "lbprobe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdm_conda")
    (root / "envs").mkdir()
    (root / "wheels").mkdir()
    make_wheel(root / "wheels")
    (root / "Snakefile").write_text(SNAKEFILE)
    (root / "probe.py").write_text(PROBE)
    (root / "envs" / "with.yaml").write_text(ENV.format(pip="  - pip:\n      - lbprobe==1.0\n"))
    (root / "envs" / "without.yaml").write_text(ENV.format(pip=""))
    (root / "envs" / "relative.yaml").write_text(
        ENV.format(pip="  - pip:\n      - ../wheels/lbprobe-1.0-py3-none-any.whl\n")
    )
    return root


def snakemake(root: Path, target: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{STANDIN / 'bin'}{os.pathsep}{env['PATH']}"
    env["PIP_FIND_LINKS"] = str(root / "wheels")
    cmd = [sys.executable, "-m", "snakemake", "--sdm", "conda", "--cores", "1", "--directory", str(root), target]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=600)


pytestmark = pytest.mark.slow


def test_host_lacks_the_probe():
    with pytest.raises(ModuleNotFoundError):
        __import__("lbprobe")


def test_env_with_the_pinned_package_runs_its_script(workflow):
    result = snakemake(workflow, "with.txt")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workflow / "with.txt").read_text() == "42\n"
    copies = list((workflow / ".snakemake" / "conda").glob("*.yaml"))
    assert copies, "Snakemake did not copy the env file into its conda prefix"


def test_env_lacking_the_module_fails_the_rule(workflow):
    result = snakemake(workflow, "without.txt")
    assert result.returncode != 0
    assert "No module named 'lbprobe'" in result.stdout + result.stderr
    assert not (workflow / "without.txt").exists()


def test_pip_path_relative_to_the_env_file_does_not_build(workflow):
    """pip runs from the folder of Snakemake's copy (.snakemake/conda/), not the env file's."""
    result = snakemake(workflow, "relative.txt")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Could not create conda environment" in output
    assert "lbprobe-1.0-py3-none-any.whl" in output


@pytest.mark.parametrize("env_file", sorted((REPO / "workflow" / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_standin_reads_env_files_as_yaml_does(env_file):
    ours = standin_conda.parse_env_file(env_file)
    theirs = yaml.safe_load(env_file.read_text())
    assert ours["dependencies"] == theirs["dependencies"]
    assert ours["channels"] == theirs["channels"]


def test_conda_specs_become_pip_requirements():
    assert standin_conda.pip_requirement("numpy=2.3.5") == "numpy==2.3.5"
    assert standin_conda.pip_requirement("pytorch=2.13.0=cuda*") == "torch==2.13.0"
    assert standin_conda.pip_requirement("simpleitk=2.5.7") == "SimpleITK==2.5.7"
    assert standin_conda.pip_requirement("cuda-version=12.9") is None
    assert standin_conda.pip_requirement("python=3.11") is None


def test_standin_answers_snakemakes_checks():
    conda = str(STANDIN / "bin" / "conda")
    version = subprocess.run([conda, "--version"], capture_output=True, text=True, check=True).stdout
    assert Version(version.split()[1]) >= Version(MIN_CONDA_VER)
    info = json.loads(subprocess.run([conda, "info", "--json"], capture_output=True, text=True, check=True).stdout)
    assert (Path(info["conda_prefix"]) / "bin" / "activate").is_file()
    unknown = subprocess.run([conda, "list", "--explicit"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "not implemented" in unknown.stderr
