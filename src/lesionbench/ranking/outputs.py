"""The workflow's ranking job: its options from the config, and every file it writes.

:func:`options_from_config` maps the ``ranking`` section of the workflow config onto
:class:`RankingOptions`; :func:`ranking_files` lists what :func:`.pipeline.run_ranking` writes
for those options, with the paths of :mod:`lesionbench.workflow.paths`, so that the rule's
``output:`` and the report entries are derived rather than written out a second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..consensus.options import SHIPPED_REFERENCE
from ..workflow import paths
from ..workflow.config import stage_seed
from .options import FIGURES, SUMMARY_FIGURES, RankingOptions

#: Analysis tables written on every run, and those only written with a bootstrap.
ANALYSIS_TABLES: tuple[str, ...] = ("ranking", "consensus", "scheme_ranks", "significance", "missing")
BOOTSTRAP_TABLES: tuple[str, ...] = ("bootstrap_summary", "kendall_tau_summary")


def ranking_reference(config: Mapping[str, Any]) -> str:
    """The reference the leaderboard scores against: ``ranking.reference``, or else the
    consensus the workflow uses as ground truth (``consensus_<consensus.reference>``)."""
    return str(config["ranking"]["reference"] or f"consensus_{config['consensus']['reference']}")


def options_from_config(config: Mapping[str, Any]) -> RankingOptions:
    """The options of the workflow's ranking job (figures on; raters scored against their
    leave-one-out fusions, the ``loo`` reference, or with ``consensus.reference: shipped``
    against the leaderboard's reference)."""
    r = config["ranking"]
    return RankingOptions(
        reference=ranking_reference(config),
        metrics=tuple(r["leaderboard_metrics"]),
        weights=tuple(r["leaderboard_weights"]) if r["leaderboard_weights"] else None,
        analysis_metrics=tuple(r["analysis_metrics"]),
        scheme=r["analysis_scheme"],
        na_treat=r["na_treat"],
        n_bootstrap=int(r["bootstrap"]),
        seed=stage_seed(config, "ranking"),
        strata=tuple(r["strata"]),
        figures=True,
        # with the shipped consensus nothing is fused: raters are scored against the reference
        rater_reference=None if config["consensus"]["reference"] == SHIPPED_REFERENCE else "loo",
        sandboxes=command_sandboxes(config.get("methods") or []),
    )


def command_sandboxes(entries: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Each participant's ``command`` entry and the tool that isolates it (its ``sandbox``, with
    ``auto`` resolved from ``container``/``image``), for the leaderboard's ``sandbox`` column."""
    from ..methods.registry import parse_method, resolved_sandbox

    specs = [parse_method(entry) for entry in entries if entry.get("kind") == "command"]
    return tuple((spec.name, resolved_sandbox(spec)) for spec in specs)


def options_as_params(options: RankingOptions) -> dict[str, Any]:
    """The options as keyword arguments of :class:`RankingOptions` (a rule's ``params``)."""
    return asdict(options)


@dataclass(frozen=True)
class RankingFile:
    """One file of the ranking job.

    ``key`` names it in the rule's ``output:``; ``group`` says what it is (``leaderboard``,
    ``table``, ``stratum``, ``figure``, ``summary_figure``, or ``""`` for a file that is not shown
    in the report); ``name`` is the table or figure drawn (a figure's name without its metric);
    ``labels`` are its report labels.
    """

    key: str
    path: str
    group: str = ""
    name: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def ranking_files(options: RankingOptions) -> list[RankingFile]:
    """Every file :func:`.pipeline.run_ranking` writes into :data:`~lesionbench.workflow.paths.RANKING_DIR`."""
    files = [
        RankingFile(
            "leaderboard", paths.LEADERBOARD, "leaderboard", "leaderboard", {"table": "leaderboard (MS-SEG 2016 style)"}
        ),
        RankingFile("leaderboard_md", paths.LEADERBOARD_MD),
        RankingFile("story", paths.RANKING_STORY, "story", "story", {"table": "story"}),
    ]
    files += [RankingFile(name, paths.ranking_table(name), "table", name, {"table": name}) for name in ANALYSIS_TABLES]
    if options.n_bootstrap > 0:
        files += [
            RankingFile(name, paths.ranking_table(name), "table", name, {"table": name}) for name in BOOTSTRAP_TABLES
        ]
        files.append(RankingFile("kendall_tau", paths.ranking_table("kendall_tau")))
    files += [
        RankingFile(
            f"by_{stratum}",
            paths.ranking_table(f"leaderboard_by_{stratum}"),
            "stratum",
            f"leaderboard_by_{stratum}",
            {"table": f"leaderboard by {stratum}"},
        )
        for stratum in options.strata
    ]
    if not options.figures:
        return files
    for metric in options.analysis_metrics:
        files += [
            RankingFile(
                f"{figure}_{metric}",
                paths.ranking_figure(f"{figure}_{metric}"),
                "figure",
                figure,
                {"metric": metric, "figure": figure.replace("_", " ")},
            )
            for figure in FIGURES
        ]
    files += [
        RankingFile(
            figure,
            paths.ranking_figure(figure),
            "summary_figure",
            figure,
            {"metric": "all", "figure": figure.replace("_", " ")},
        )
        for figure in SUMMARY_FIGURES
    ]
    return files
