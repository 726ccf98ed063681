"""Static checks of the per-rule conda environments (no conda channel is reachable here).

For every rule: it names an env file that exists; every third-party module its script imports,
directly or through the lesionbench modules it uses (followed transitively, imports inside
functions included: conservative), is provided by that env; and every pin in an env file agrees
with requirements.txt, the one pip venv that CI runs.
"""

from __future__ import annotations

import ast
import re
import sys
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
            name, _, version = dep.partition("=")
            packages[name.strip().lower()] = version.strip() or None
    return packages


RULES = rule_blocks()


def test_rules_are_found():
    names = {r[0] for r in RULES}
    assert {"qc_case", "import_cohort", "qc_inputs"} <= names


@pytest.mark.parametrize("rule, smk, conda, script", RULES, ids=[r[0] for r in RULES])
def test_rule_env_provides_script_imports(rule, smk, conda, script):
    assert conda, f"rule {rule} ({smk.name}) has no conda: directive"
    env_file = (smk.parent / conda).resolve()
    assert env_file.is_file(), f"rule {rule}: env file {env_file} does not exist"
    env = env_packages(env_file)
    spec = yaml.safe_load(env_file.read_text())
    pip_entries = [d for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_entries and "-e .." in pip_entries[0]["pip"], f"{env_file.name} must install lesionbench (pip -e ..)"
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


@pytest.mark.parametrize("env_file", sorted((REPO / "workflow" / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_pins_agree_with_requirements(env_file):
    pins = requirement_pins()
    for name, version in env_packages(env_file).items():
        if name in ("python", "pip"):
            continue
        assert version, f"{env_file.name}: {name} is not pinned"
        assert name in pins, f"{env_file.name}: {name} is not in requirements.txt"
        assert version == pins[name], f"{env_file.name}: {name}={version} but requirements.txt pins {pins[name]}"
