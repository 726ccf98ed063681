"""Segmentation methods of the challenge: the registry, built-in baselines, participants' methods.

Modules (imported one by one so that each workflow env only needs what its methods use):

- :mod:`.registry`: the ``methods:`` config list checked into :class:`~.registry.MethodSpec`;
- :mod:`.inputs`: what a method is given (one case's arrays, its parameters);
- :mod:`.postprocess`: the minimum lesion size applied to a prediction;
- :mod:`.sampling`: class-balanced training-voxel sampling;
- :mod:`.classical`: ``flair_hyperintensity`` (FLAIR outliers vs NAWM, threshold tuned on train);
- :mod:`.forest`: ``random_forest`` (scikit-learn voxel classifier; needs scikit-learn);
- :mod:`.unet`: ``unet3d`` (MONAI 3-D U-Net; needs torch and monai);
- :mod:`.ensemble`: ``ensemble`` (majority vote / STAPLE of other methods);
- :mod:`.participants`: ``command`` and ``submission``;
- :mod:`.files`: the prediction and model folders (the file edge).

This package's ``__init__`` imports nothing heavy on purpose.
"""
