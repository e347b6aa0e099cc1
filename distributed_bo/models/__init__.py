"""Model families: ``convnet``, ``lenet`` and ``fast`` classifiers, the autoencoder, the digits CNN.

:func:`~distributed_bo.models.factory.build_model` builds a ``vision_cnn`` classifier
from a :class:`~distributed_bo.models.factory.ModelSpec`; each family lives in its own
module. :mod:`~distributed_bo.models.autoencoder` (``autoencoder``) and
:mod:`~distributed_bo.models.digits` (``digits_cnn``) each serve one trainable and
are built directly.
"""
