"""Old home of :class:`StorageDir`, now :mod:`distributed_bo.experiment.storage`.

Kept because the ``tuner.pkl`` of existing experiment directories pickles the
results writer with a ``StorageDir`` under this module path; unpickling on
``resume`` needs the name here.
"""

from distributed_bo.experiment.storage import StorageDir

__all__ = ["StorageDir"]
