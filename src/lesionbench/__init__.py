"""lesionbench: a multi-center MS lesion segmentation challenge, end to end.

The science lives in this package as small typed functions on numpy arrays plus voxel
spacing; the Snakemake workflow (``workflow/``) calls it through thin scripts.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The project's seed: the default of every seeded step (ranking bootstrap and podium
#: tie-breaks, ANTs registration, method training) unless the config or a caller sets another;
#: the same value as the config's ``seed`` default.
DEFAULT_SEED: int = 2016
