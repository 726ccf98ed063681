"""Support for the Snakemake workflow outside the science itself.

* :mod:`.run`: :func:`~.run.run_script`, the wrapper every ``workflow/scripts/*.py`` runs its one
  library call in (the rule's log, one-line errors naming case and file);
* :mod:`.config`: the config turned into objects at parse time, e.g. the validated
  :class:`~lesionbench.cohort.sheet.CaseSheet` that drives the DAG.

This package's ``__init__`` imports nothing, so a script pays only for what it uses.
"""
