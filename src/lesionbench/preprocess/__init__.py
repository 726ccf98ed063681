"""Preprocessing and intensity harmonization.

Submodules (import them directly; this package imports nothing so that light consumers, e.g.
the harmonization rules, do not pull in ANTsPy):

* :mod:`~lesionbench.preprocess.spatial`: reorientation, rigid resampling, ITK transform matrices;
* :mod:`~lesionbench.preprocess.itk_bridge`: arrays to and from ANTsPy and SimpleITK images;
* :mod:`~lesionbench.preprocess.registration`: rigid co-registration to FLAIR, MNI template
  registration, mapping FLAIR-grid masks to template space;
* :mod:`~lesionbench.preprocess.bias`: N4 bias-field correction, optional NL-means denoising;
* :mod:`~lesionbench.preprocess.pipeline`: one case end to end, its outputs and QC rows;
* :mod:`~lesionbench.preprocess.harmonize`: z-score, WhiteStripe, Nyul, histogram matching, none;
* :mod:`~lesionbench.preprocess.quality`: (normalized) mutual information, transform error,
  between-center 1-Wasserstein distances;
* :mod:`~lesionbench.preprocess.figures`: overlay and NAWM-distribution figures for the report;
* :mod:`~lesionbench.preprocess.options`: the harmonization scheme names (standard library only);
* :mod:`~lesionbench.preprocess.jobs` (ANTs) and :mod:`~lesionbench.preprocess.harmonize_jobs`
  (no ANTs): what each workflow rule of the stage does, from its input files to its outputs.

ANTsPy and SimpleITK are imported inside the functions that need them, so a caller can set
``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS`` / ``ANTS_RANDOM_SEED`` before ITK is first loaded.
"""
