"""Static checks of the per-rule conda environments (no conda channel is reachable here).

For every rule: it names an env file that exists; every third-party module its script imports,
directly or through the lesionbench modules it uses (followed transitively, imports inside
functions included: conservative), is provided by that env; and every pin in an env file agrees
with requirements.txt, the one pip venv that CI runs.

lesionbench itself: each env's ``pip:`` section is exactly ``lesionbench==<pyproject.toml's
version>`` (no path, so it builds wherever Snakemake copies the env file; the env's hash follows
the version), and the package's declared dependencies are all pinned by every env, so that pip
installs nothing besides lesionbench. tests/conda/run_sdm_conda_test.sh builds the envs for real.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

#: import name -> conda-forge package name
CONDA_NAME = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "nibabel": "nibabel",
    "nilearn": "nilearn",
    "SimpleITK": "simpleitk",
    "ants": "antspyx",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "statsmodels": "statsmodels",
    "jsonschema": "jsonschema",
    "yaml": "pyyaml",
    "torch": "pytorch",
    "monai": "monai",
    "snakemake": "snakemake",
}
#: pip distribution name (lower case) -> conda-forge package name, where they differ
PIP_TO_CONDA = {"simpleitk": "simpleitk", "torch": "pytorch", "pyyaml": "pyyaml"}
#: conda-only packages with no pip counterpart (the CUDA runtime pin of a GPU env)
CONDA_ONLY = {"python", "pip", "cuda-version"}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
ENV_FILES = sorted((REPO / "workflow" / "envs").glob("*.yaml"))
#: modules the workflow scripts may use without an env entry (Snakemake injects `snakemake`)
PROVIDED = {"snakemake"}


def rule_blocks() -> list[tuple[str, Path, str | None, str | None]]:
    """(rule name, rule file, conda env path, script path) for every rule, from the snakefmt-formatted files.

    A line scan: a rule starts at ``rule NAME:``/``checkpoint NAME:``; within it, the line after
    ``conda:`` or ``script:`` holds the quoted path.
    """
    found = []
    header = re.compile(r"^(\s*)(?:rule|checkpoint) (\w+):\s*$")
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        current: dict | None = None
        for i, line in enumerate(lines):
            match = header.match(line)
            if match:
                if current:
                    found.append((current["name"], smk, current.get("conda"), current.get("script")))
                current = {"name": match.group(2)}
                continue
            if current is None:
                continue
            key = line.strip()
            if key in ("conda:", "script:") and i + 1 < len(lines):
                quoted = re.search(r"\"([^\"]+)\"", lines[i + 1])
                if quoted:
                    current[key[:-1]] = quoted.group(1)
                elif key == "conda:" and re.fullmatch(r"\w+", lines[i + 1].strip()):
                    # a function of common.smk choosing the env (e.g. CPU or CUDA PyTorch)
                    current["conda"] = "function:" + lines[i + 1].strip()
        if current:
            found.append((current["name"], smk, current.get("conda"), current.get("script")))
    return found


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            module = module_of(path)
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            if node.module:
                base = f"{base}.{node.module}"
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_of(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def lesionbench_file(module: str) -> Path | None:
    base = SRC / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def third_party_closure(path: Path) -> frozenset[str]:
    """Top-level third-party modules imported by ``path`` and the lesionbench modules it reaches."""
    seen: set[Path] = set()
    todo = [path]
    third: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in imports_of(current):
            top = name.split(".")[0]
            if top == "lesionbench":
                parts = name.split(".")
                for i in range(len(parts), 1, -1):
                    target = lesionbench_file(".".join(parts[:i]))
                    if target is not None:
                        todo.append(target)
                        # a package's __init__ runs before its submodules
                        for j in range(2, i):
                            init = lesionbench_file(".".join(parts[:j]))
                            if init is not None:
                                todo.append(init)
                        break
            elif top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
    return frozenset(third)


def env_packages(env_file: Path) -> dict[str, str | None]:
    spec = yaml.safe_load(env_file.read_text())
    packages: dict[str, str | None] = {}
    for dep in spec.get("dependencies", []):
        if isinstance(dep, str):
            # name=version or name=version=build (a build string selects a variant, e.g. cuda*)
            name, _, version = dep.partition("=")
            packages[name.strip().lower()] = version.split("=")[0].strip() or None
    return packages


RULES = rule_blocks()


def test_rules_are_found():
    names = {r[0] for r in RULES}
    assert {"qc_case", "import_cohort", "qc_inputs"} <= names


@pytest.mark.parametrize("rule, smk, conda, script", RULES, ids=[r[0] for r in RULES])
def test_rule_env_provides_script_imports(rule, smk, conda, script):
    assert conda, f"rule {rule} ({smk.name}) has no conda: directive"
    choices = env_choices(conda.removeprefix("function:")) if conda.startswith("function:") else [conda]
    assert choices, f"rule {rule}: the function {conda} of common.smk names no env file"
    for choice in choices:
        check_env_provides_script_imports(rule, smk, choice, script)


def env_choices(function: str) -> list[str]:
    """The env files (quoted ``.yaml`` paths) that a conda-choosing function of common.smk returns."""
    lines = (REPO / "workflow" / "rules" / "common.smk").read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"def {function}(")), None)
    assert start is not None, f"no function {function} in common.smk"
    body = []
    for line in lines[start + 1 :]:
        if line and not line[0].isspace():
            break
        body.append(line)
    return re.findall(r"\"([^\"]+\.yaml)\"", "\n".join(body))


def check_env_provides_script_imports(rule: str, smk: Path, conda: str, script: str | None) -> None:
    env_file = (smk.parent / conda).resolve()
    assert env_file.is_file(), f"rule {rule}: env file {env_file} does not exist"
    env = env_packages(env_file)
    if script is None:
        return
    script_path = (smk.parent / script).resolve()
    assert script_path.is_file(), f"rule {rule}: script {script_path} does not exist"
    needed = third_party_closure(script_path) - PROVIDED
    unknown = sorted(m for m in needed if m not in CONDA_NAME)
    assert not unknown, f"rule {rule}: imports with no known conda package: {unknown} (add them to CONDA_NAME)"
    missing = sorted(CONDA_NAME[m] for m in needed if CONDA_NAME[m] not in env)
    assert not missing, f"rule {rule}: {env_file.name} lacks {missing}, needed by {script_path.name}"


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            name = name.strip().lower()
            pins[PIP_TO_CONDA.get(name, name)] = version.strip()
    return pins


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_requirements(env_file):
    pins = requirement_pins()
    for name, version in env_packages(env_file).items():
        if name in CONDA_ONLY:
            continue
        assert version, f"{env_file.name}: {name} is not pinned"
        assert name in pins, f"{env_file.name}: {name} is not in requirements.txt"
        assert version == pins[name], f"{env_file.name}: {name}={version} but requirements.txt pins {pins[name]}"


def requirement_name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement such as ``numpy>=2.0``."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, f"unreadable requirement {requirement!r}"
    return name.group(0).lower()


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_installs_lesionbench_pinned_to_the_package_version(env_file):
    spec = yaml.safe_load(env_file.read_text())
    sections = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d]
    expected = f"lesionbench=={PYPROJECT['version']}"
    assert sections == [[expected]], (
        f"{env_file.name}: the pip section must be exactly [{expected!r}] (no paths: Snakemake runs pip "
        f"from the folder of its copy of the env file), got {sections}"
    )
    assert "pip" in env_packages(env_file), f"{env_file.name}: a pip section needs the pip package"


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_every_declared_dependency(env_file):
    """pip installing lesionbench into the env finds every dependency already there, so pulls nothing."""
    env = env_packages(env_file)
    declared = [requirement_name(r) for r in PYPROJECT["dependencies"]]
    missing = [name for name in declared if PIP_TO_CONDA.get(name, name) not in env]
    assert not missing, f"{env_file.name} does not pin {missing}, declared by pyproject.toml's dependencies"


def test_package_version_is_one():
    import lesionbench

    assert lesionbench.__version__ == PYPROJECT["version"], "lesionbench.__version__ differs from pyproject.toml"


def test_extras_are_pinned_by_requirements():
    """What only some stages need is an extra; each lies in the pinned venv (requirements.txt)."""
    pins = requirement_pins()
    for extra, requirements in PYPROJECT["optional-dependencies"].items():
        for requirement in requirements:
            name = requirement_name(requirement)
            if name == "lesionbench":
                continue
            assert PIP_TO_CONDA.get(name, name) in pins, f"extra {extra}: {name} is not in requirements.txt"
