"""Model families: ``convnet``, ``lenet`` and ``fast`` classifiers, and the autoencoder.

:func:`~distributed_bo.models.factory.build_model` builds a classifier from a
:class:`~distributed_bo.models.factory.ModelSpec`; each family lives in its own module.
"""
