"""lesionbench: a multi-center MS lesion segmentation challenge, end to end.

The science lives in this package as small typed functions on numpy arrays plus voxel
spacing; the Snakemake workflow (``workflow/``) calls it through thin scripts.
"""

from __future__ import annotations

__version__ = "0.1.0"
