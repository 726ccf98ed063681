"""A stand-in for the `conda` executable, for tests on machines without a conda channel.

It implements the sub-commands that Snakemake 9's conda deployment (``--sdm conda``) calls:

- ``conda --version``, ``conda info --json`` (``conda_prefix``: this folder, whose ``bin/activate``
  Snakemake sources as ``source <conda_prefix>/bin/activate '<env>'`` before a job's command),
  ``conda config --get channel_priority --json``, ``conda clean``;
- ``conda env create --file F --prefix P``: builds the env as a Python venv. The conda packages
  of F become their PyPI equivalents (``CONDA_TO_PIP``; ``name=version`` becomes
  ``name==version``), installed with pip's normal configuration, which plays the channel
  (``STANDIN_CONDA_CHANNEL``, if set, replaces ``PIP_FIND_LINKS`` for this step;
  ``STANDIN_CONDA_CONSTRAINTS``, if set, a pip constraints file, plays a lock file). Then the
  ``pip:`` section is installed the way conda's pip installer does it: written to a requirements
  file in F's folder and run as ``python -m pip install -U -r <file>`` with F's folder as the
  working directory; here additionally with ``--no-index``, no pip configuration file and only
  the caller's ``PIP_FIND_LINKS``, so pip can install nothing that the env file does not name or
  the caller did not put there on purpose.

Anything else (``conda create`` from archives, ``conda list --explicit``) fails with a message.
Only the subset of YAML that env files use is read (``name``, ``channels``, ``dependencies``
with a nested ``pip:`` list), so this runs on any Python 3 without third-party modules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = "24.11.3"

#: conda-forge name -> PyPI name, where they differ
CONDA_TO_PIP = {"pytorch": "torch", "pyyaml": "PyYAML", "simpleitk": "SimpleITK", "pytorch-gpu": "torch"}
#: conda packages with no PyPI counterpart in a venv (metapackages, the CUDA runtime selector)
CONDA_ONLY = {"python", "pip", "cuda-version", "cudatoolkit", "nomkl", "_openmp_mutex"}


class StandInError(Exception):
    """A bad env file or an unsupported request, reported as one line."""


def parse_env_file(path: Path) -> dict:
    """``{"name", "channels", "dependencies"}`` from a conda env file (the subset env files use)."""
    spec: dict = {"dependencies": [], "channels": []}
    key = None
    pip_list: list[str] | None = None
    pip_indent = -1
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            pip_list = None
            match = re.fullmatch(r"([\w-]+):\s*(.*)", text)
            if not match:
                raise StandInError(f"{path}:{number}: expected 'key:' at the top level, got {raw!r}")
            key, value = match.group(1), match.group(2).strip().strip("'\"")
            if value:
                spec[key] = value
            else:
                spec[key] = []
            continue
        if not text.startswith("- ") or key is None or not isinstance(spec.get(key), list):
            raise StandInError(f"{path}:{number}: expected a list item under a top-level key, got {raw!r}")
        item = text[2:].strip().strip("'\"")
        if pip_list is not None and indent > pip_indent:
            pip_list.append(item)
        elif item == "pip:" and key == "dependencies":
            pip_list, pip_indent = [], indent
            spec[key].append({"pip": pip_list})
        else:
            pip_list = None
            spec[key].append(item)
    return spec


def pip_requirement(conda_spec: str) -> str | None:
    """The PyPI requirement for a conda match spec, or None for conda-only packages."""
    name, _, rest = conda_spec.partition("=")
    name = name.strip()
    version = rest.split("=")[0].strip() if rest else ""
    if rest.startswith("="):  # name==version
        version = rest[1:].split("=")[0].strip()
    if re.search(r"[<>!,| ]", name):
        raise StandInError(f"unsupported conda match spec {conda_spec!r} (use name=version)")
    if name.lower() in CONDA_ONLY:
        return None
    pip_name = CONDA_TO_PIP.get(name.lower(), name)
    if not version or version == "*":
        return pip_name
    return f"{pip_name}=={version}"


def python_for(spec: dict) -> str:
    """The interpreter for the env's ``python=X.Y`` pin (``pythonX.Y`` on PATH)."""
    for dep in spec["dependencies"]:
        if isinstance(dep, str) and dep.split("=")[0].strip() == "python":
            version = dep.partition("=")[2].lstrip("=").split("=")[0].strip()
            exe = shutil.which(f"python{version}") if version else shutil.which("python3")
            if exe is None:
                raise StandInError(f"python{version} is not on PATH (the env file pins python={version})")
            return exe
    raise StandInError("the env file names no python; a Snakemake script env needs one")


def run(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=cwd, env=env)
    if result.returncode != 0:
        raise StandInError(f"command failed with exit code {result.returncode}: {' '.join(cmd)}")


def env_create(env_file: Path, prefix: Path) -> None:
    spec = parse_env_file(env_file)
    packages = [req for dep in spec["dependencies"] if isinstance(dep, str) if (req := pip_requirement(dep))]
    pip_sections = [dep["pip"] for dep in spec["dependencies"] if isinstance(dep, dict)]
    python = python_for(spec)
    run([python, "-m", "venv", str(prefix)])
    py = str(prefix / "bin" / "python")
    channel_env = dict(os.environ)
    if "STANDIN_CONDA_CHANNEL" in os.environ:
        channel_env["PIP_FIND_LINKS"] = os.environ["STANDIN_CONDA_CHANNEL"]
    constraints = os.environ.get("STANDIN_CONDA_CONSTRAINTS")
    if packages:
        extra = ["-c", constraints] if constraints else []
        run([py, "-m", "pip", "install", "--quiet", *packages, *extra], env=channel_env)
    for section in pip_sections:
        if not section:
            continue
        # conda/env/installers/pip.py: a requirements file beside the env file, pip run from there
        workdir = env_file.resolve().parent
        requirements = workdir / f"condaenv.{prefix.name}.requirements.txt"
        requirements.write_text("\n".join(section) + "\n")
        pip_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        pip_env["PIP_CONFIG_FILE"] = os.devnull
        if os.environ.get("PIP_FIND_LINKS"):
            pip_env["PIP_FIND_LINKS"] = os.environ["PIP_FIND_LINKS"]
        try:
            run(
                [
                    py,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-index",
                    "-U",
                    "-r",
                    requirements.name,
                    "--exists-action=b",
                ],
                cwd=workdir,
                env=pip_env,
            )
        finally:
            requirements.unlink(missing_ok=True)
    (prefix / "conda-meta").mkdir(exist_ok=True)
    (prefix / "conda-meta" / "history").write_text(f"# built by the lesionbench conda stand-in from {env_file}\n")


def option(args: list[str], name: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise StandInError(f"missing {name}")


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in ("--quiet", "-q", "--yes", "-y", "--no-default-packages", "--json")]
    wants_json = "--json" in argv
    if argv[:1] in (["--version"], ["-V"]):
        print(f"conda {VERSION}")
        return 0
    if args[:1] == ["info"] and wants_json:
        info = {
            "conda_prefix": str(HERE),
            "root_prefix": str(HERE),
            "platform": "linux-64",
            "conda_version": VERSION,
            "envs_dirs": [str(HERE / "envs")],
            "channels": ["stand-in: pip's configured sources"],
        }
        print(json.dumps(info))
        return 0
    if args[:3] == ["config", "--get", "channel_priority"]:
        print(json.dumps({"get": {"channel_priority": "strict"}, "rc_path": None, "success": True, "warnings": []}))
        return 0
    if args[:1] == ["clean"]:
        return 0
    if args[:2] == ["env", "create"]:
        env_file = Path(option(args, "--file").strip("'\""))
        prefix = Path(option(args, "--prefix").strip("'\""))
        if prefix.exists():
            raise StandInError(f"prefix already exists: {prefix}")
        try:
            env_create(env_file, prefix)
        except BaseException:
            shutil.rmtree(prefix, ignore_errors=True)
            raise
        return 0
    raise StandInError(f"'conda {' '.join(argv)}' is not implemented by the test stand-in")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except StandInError as error:
        print(f"conda (stand-in): {error}", file=sys.stderr)
        sys.exit(1)
