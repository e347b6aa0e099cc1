"""SpareCount: one spare per slot that may free at once, learnt from the queue."""

from distributed_bo.search.spares import SpareCount


def test_starts_with_a_round_of_spares_and_none_for_one_slot():
    assert SpareCount(fixed=None).spares(4) == 4
    assert SpareCount(fixed=None).spares(1) == 0


def test_a_fixed_count_never_adapts():
    count = SpareCount(fixed=2)
    count.missed(slots=8)
    for _ in range(8):
        count.handed_out(ready_left=5, slots=8, first_round=False)
    assert count.spares(8) == 2


def test_trials_ending_one_at_a_time_drop_to_a_margin_of_one():
    count = SpareCount(fixed=None)
    assert count.spares(4) == 4
    # Each freed slot found the queue refilled: 3 points always left after a hand-out.
    for _ in range(4):
        count.handed_out(ready_left=3, slots=4, first_round=False)
    assert count.spares(4) == 2
    for _ in range(4):
        count.handed_out(ready_left=1, slots=4, first_round=False)
    assert count.spares(4) == 2  # one left over is the margin it keeps


def test_trials_ending_together_keep_a_round_of_spares():
    count = SpareCount(fixed=None)
    assert count.spares(4) == 4
    for left in (3, 2, 1, 0):  # four slots freed before the queue was refilled
        count.handed_out(ready_left=left, slots=4, first_round=False)
    assert count.spares(4) == 4


def test_the_first_round_is_not_a_burst_of_ending_trials():
    count = SpareCount(fixed=None)
    assert count.spares(4) == 4
    for left in (7, 6, 5, 4):
        count.handed_out(ready_left=left, slots=4, first_round=True)
    assert count.spares(4) == 4


def test_a_miss_adds_one_spare_per_dry_spell_up_to_the_slots():
    count = SpareCount(fixed=None)
    count.spares(4)
    for _ in range(4):
        count.handed_out(ready_left=4, slots=4, first_round=False)
    assert count.spares(4) == 1
    count.missed(slots=4)
    count.missed(slots=4)  # the same slot asking again: still one miss
    assert count.spares(4) == 2
    count.handed_out(ready_left=0, slots=4, first_round=False)
    count.missed(slots=4)
    assert count.spares(4) == 3
    for _ in range(3):
        count.handed_out(ready_left=0, slots=4, first_round=False)
        count.missed(slots=4)
    assert count.spares(4) == 4  # never more than one per slot


def test_hand_outs_refilled_by_sobol_points_do_not_cut_the_spares():
    count = SpareCount(fixed=None)
    assert count.spares(4) == 4
    # Sobol refills land between slots freed together: 3 always left, yet the
    # first model-based round will need all four.
    for _ in range(8):
        count.handed_out(ready_left=3, slots=4, first_round=False, refills_free=True)
    assert count.spares(4) == 4
    for _ in range(4):
        count.handed_out(ready_left=3, slots=4, first_round=False, refills_free=False)
    assert count.spares(4) == 2
