"""Datasets for the torch trainables.

Data flow: :mod:`~distributed_bo.data.load` reads a dataset once per study into
:class:`~distributed_bo.data.arrays.VisionArrays` (NumPy, shared through Ray's object
store); :mod:`~distributed_bo.data.device` splits it (:mod:`~distributed_bo.data.split`)
and moves it to a trial's device once per process; :mod:`~distributed_bo.data.augment`
augments batches on that device. :mod:`~distributed_bo.data.digits` reads
scikit-learn's digits for both ``dataset: digits`` and ``digits_cnn``.
:mod:`~distributed_bo.data.fake` writes small data sets in the real on-disk formats.
"""
