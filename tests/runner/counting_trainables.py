"""Re-export of the counting trainable, so specs can name it ``counting_trainables:counter``."""

from distributed_bo.testing.counting import counter

__all__ = ["counter"]
