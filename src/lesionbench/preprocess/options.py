"""The preprocessing stage's choices: the intensity-harmonization schemes.

Standard library only, so the methods registry and the workflow's config checks name the
schemes without importing numpy or scipy; :func:`.harmonize.harmonize` computes them.
"""

from __future__ import annotations

#: Harmonization schemes, each a folder ``results/harmonized/<scheme>/`` and a method input
#: prefix (``"nyul/flair"``); ``none`` keeps the preprocessed intensities.
HARMONIZATION_SCHEMES: tuple[str, ...] = ("zscore", "whitestripe", "nyul", "histmatch", "none")
