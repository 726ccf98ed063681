"""Report figure: FLAIR with the propagated brain mask and the co-registered T1 per case."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.io import load_mask, load_volume
    from lesionbench.preprocess.figures import plot_overlays

    panels = []
    for case, flair, t1, brain in zip(smk.params.cases, smk.input.flair, smk.input.second, smk.input.brain):
        f = load_volume(flair, case=case)
        panels.append(
            (case, f.data, load_volume(t1, case=case).data, load_mask(brain, case=case, reference=f).data, f.affine)
        )
    plot_overlays(panels, smk.output[0], second_label=smk.params.second)


run_script(snakemake, main)  # noqa: F821
