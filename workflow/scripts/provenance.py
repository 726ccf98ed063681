"""Write results/provenance.json (lesionbench.provenance)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import json
    from pathlib import Path

    from lesionbench.provenance import collect

    record = collect(smk.params.config, Path(smk.params.repo))
    Path(smk.output[0]).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


run_script(snakemake, main)  # noqa: F821
