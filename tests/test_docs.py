"""The documentation stands alone: every page the code cites exists, nothing points outside the
repository, and the paths and modules named in docs/ exist (so the architecture picture stays true)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "lesionbench"

#: Folders that hold no text of ours (environments, caches, run outputs).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "results",
        "logs",
        ".snakemake",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".whl",
        "node_modules",
    }
)
TEXT_SUFFIXES = frozenset({".py", ".md", ".smk", ".rst", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".sh", ".tsv", ""})

# Built from pieces so that this file does not match its own patterns.
OUTSIDE_REFERENCES = re.compile(
    "|".join(
        [
            re.escape("shared" + "/docs"),
            re.escape(".." + "/shared"),
            r"\b" + "issue" + r"s?\s?#?\d+\b",
        ]
    ),
    re.IGNORECASE,
)
DOC_CITATION = re.compile(r"\bdocs/([A-Za-z0-9_.-]+\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(([A-Za-z0-9_.-]+\.md)(?:#[^)]*)?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
DOTTED_NAME = re.compile(r"\blesionbench(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _text_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size < 2_000_000:
                yield path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def test_docs_folder_has_the_pages_the_house_needs() -> None:
    for name in ("architecture", "metrics", "ranking", "consensus", "synthetic-cohort", "data-and-preprocessing"):
        assert (DOCS / f"{name}.md").is_file(), f"docs/{name}.md is missing"


def test_every_cited_doc_page_exists() -> None:
    cited_from = [
        ROOT / "src",
        ROOT / "workflow",
        ROOT / "config",
        ROOT / "tests",
        ROOT / "benchmarks",
        DOCS,
        ROOT / "README.md",
        ROOT / "workflow" / "Snakefile",
    ]
    missing = []
    for path in _text_files(*cited_from):
        text = _read(path)
        if text is None:
            continue
        for name in DOC_CITATION.findall(text):
            if not (DOCS / name).is_file():
                missing.append(f"{path.relative_to(ROOT)} cites docs/{name}")
        if path.parent == DOCS:
            for name in MARKDOWN_LINK.findall(text):
                if not (DOCS / name).is_file():
                    missing.append(f"{path.relative_to(ROOT)} links to {name}")
    assert not missing, "\n".join(missing)


def test_no_text_points_outside_the_repository() -> None:
    found = []
    for path in _text_files(ROOT):
        text = _read(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            match = OUTSIDE_REFERENCES.search(line)
            if match:
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}")
    assert not found, "text that refers to something a reader of the repository cannot see:\n" + "\n".join(found)


def _file_exists(name: str) -> bool:
    """A path (or glob) as docs write it: from the repository root, from ``src/``, or inside the package.

    A bare file name (``engine.py``, written next to its package in a list) must exist somewhere
    in the package or the workflow.
    """
    name = name.rstrip("/")
    if "/" not in name:
        return any(any((ROOT / top).rglob(name)) for top in ("src/lesionbench", "workflow"))
    return any(any(base.glob(name)) for base in (ROOT, ROOT / "src", PACKAGE))


def _module_file(parts: list[str]) -> Path | None:
    base = ROOT / "src" / Path(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _dotted_name_exists(dotted: str) -> bool:
    """``lesionbench.a.b`` is a module, or a module and one name that its source defines or exports."""
    parts = dotted.split(".")
    if _module_file(parts) is not None:
        return True
    module = _module_file(parts[:-1])
    if module is None:
        return False
    return re.search(rf"\b{re.escape(parts[-1])}\b", module.read_text(encoding="utf-8")) is not None


def test_paths_named_in_architecture_exist() -> None:
    """Every ``.py`` path (or glob) in a code span of docs/architecture.md exists."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    missing = [
        token
        for span in CODE_SPAN.findall(text)
        for token in (t.strip(",;:()") for t in span.split())
        if token.endswith(".py") and not _file_exists(token)
    ]
    assert not missing, f"docs/architecture.md names files that do not exist: {sorted(set(missing))}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_modules_named_in_docs_exist(page: str) -> None:
    """Every ``lesionbench.x.y`` in a page is a module, or a name its module defines or exports."""
    text = (DOCS / page).read_text(encoding="utf-8")
    missing = sorted({d for d in DOTTED_NAME.findall(text) if not _dotted_name_exists(d)})
    assert not missing, f"docs/{page} names modules or objects that do not exist: {missing}"


def test_architecture_names_three_model_files_that_exist() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Three files", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"^\d\. `([^`]+)`", section, flags=re.MULTILINE)
    assert len(files) == 3, files
    for name in files:
        assert (ROOT / name).is_file(), name
    script = next(f for f in files if f.startswith("workflow/scripts/"))
    lines = (ROOT / script).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 25 and any("run_script(snakemake" in line for line in lines), script
