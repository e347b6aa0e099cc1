"""How many spare points the searcher keeps ready: one per slot that may free at once.

A spare is a point generated while every slot is busy, so that a trial that ends
gives its slot a new point at once instead of waiting for a model fit. One spare
covers trials that end one at a time. Trials of equal length started together (fixed
epochs, fixed model: the common case) end together, and each freed slot then needs
a spare of its own, or all but one wait for the next generation.

:class:`SpareCount` sizes the spares from what the queue shows, with no clock:

* It starts with one spare per slot: the first round starts together, and may end
  together. Points generated before ``num_initial`` trials have data are Sobol
  points, so these spares cost no model fit. Where ``num_initial`` is under two
  rounds of slots, some of them are Sobol points in place of model-based ones
  (Branin, 5 initial points at 4 workers: 5-4-1 against one spare in
  ``benchmarks/results/optimizer_quality.md``, not significant). With
  ``sobol_start="fixed"`` no spare is drawn beyond the start before the model can
  be fitted (the searcher asks for none then).
* A slot that frees and finds the queue empty (a *miss*) adds a spare.
* Every ``slots`` points handed out after the first round, it looks at the fewest
  points left in the queue after a hand-out. Two or more always left means those
  spares were not needed: it keeps one of them as a margin and drops the rest.
  Hand-outs while the queue is refilled with Sobol points do not count: those
  refills cost no model fit and land between slots that free 0.1 s apart, so the
  queue never drains, yet the first model-based round needs every spare. (Counting
  them cut the spares below a round before the model took over, and a slot of
  each round that freed together then waited for a model fit: the 3-s gaps behind
  a busy fraction of 0.951 of random search's with equal 10-s trials on 4 GPUs,
  ``benchmarks/results/utilization.md``.)

So trials that end together keep a full round of spares; trials that end one at a
time settle at one or two, each generated before fewer results (a spare is proposed
before the results of the trials whose slots it will take). A fixed ``prefetch``
turns the adaptation off.
"""

from __future__ import annotations


class SpareCount:
    """The number of spares to keep ready; guarded by the searcher's lock.

    Args:
        fixed: The ``prefetch`` setting: a fixed count, or ``None`` to adapt.
    """

    def __init__(self, *, fixed: int | None) -> None:
        self.fixed = fixed
        #: Adapted count; ``None`` until the slot count is known.
        self.target: int | None = None
        self._window = 0
        self._low: int | None = None
        self._dry = False

    def spares(self, slots: int) -> int:
        """Spares to keep ready with ``slots`` trials running at once."""
        if self.fixed is not None:
            return self.fixed
        if slots <= 1:
            return 0  # a spare would never see the result of the trial before it
        if self.target is None:
            self.target = slots
        return min(max(self.target, 1), slots)

    def handed_out(
        self, *, ready_left: int, slots: int, first_round: bool, refills_free: bool = False
    ) -> None:
        """Note a ready point handed to a slot; ``ready_left`` are still queued.

        Args:
            ready_left: Points left in the queue after this one.
            slots: Trials run at once.
            first_round: Whether the point fills a slot that never had a trial
                (the first round's hand-outs are not bursts of ending trials).
            refills_free: Whether the queue is refilled without a model fit (Sobol
                or given points), so what is left in it says nothing about bursts.
        """
        self._dry = False
        if self.fixed is not None or self.target is None or first_round or refills_free:
            return
        self._low = ready_left if self._low is None else min(self._low, ready_left)
        self._window += 1
        if self._window >= slots:
            if self._low >= 2:
                self.target = max(1, self.target - (self._low - 1))
            self._window, self._low = 0, None

    def missed(self, *, slots: int) -> None:
        """Note a freed slot that found no point ready; one miss counts per dry spell."""
        if self.fixed is not None or self.target is None or self._dry:
            return
        self._dry = True
        self.target = min(self.target + 1, slots)
