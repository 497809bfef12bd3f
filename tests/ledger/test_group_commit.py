"""GroupCommit: concurrent callers share writes, each gets its own result, nobody is left waiting."""
import threading
import time

import pytest

from app.ledger.group_commit import GroupCommit
from tests.conftest import run_together


def test_each_caller_gets_its_own_result_and_batches_form_under_load():
    batches = []

    def write(items):
        batches.append(list(items))
        time.sleep(0.01)  # a commit's worth of waiting, so that others queue up
        return [item * 10 for item in items]

    group = GroupCommit(write, max_batch=8)
    results = {}
    run_together(lambda i: results.__setitem__(i, group.submit(i)), 40, timeout=10)
    assert results == {i: i * 10 for i in range(40)}
    assert sorted(x for b in batches for x in b) == list(range(40))  # every item written once
    assert max(len(b) for b in batches) > 1 and max(len(b) for b in batches) <= 8
    assert group.items == 40 and group.batches == len(batches) < 40


def test_a_lone_caller_writes_at_once_as_a_batch_of_one():
    group = GroupCommit(lambda items: [("written", items)])
    assert group.submit("a") == ("written", ["a"])
    assert group.submit("b") == ("written", ["b"])
    assert group.batches == 2


def test_a_failed_batch_raises_in_every_caller_of_it_and_the_next_batch_still_runs():
    gate = threading.Event()
    calls = []

    def write(items):
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(5)  # hold the first batch until the others have queued
            return ["ok"] * len(items)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return ["ok"] * len(items)

    group = GroupCommit(write)
    outcomes = {}

    def call(i):
        try:
            outcomes[i] = group.submit(i)
        except RuntimeError as e:
            outcomes[i] = str(e)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 6)]
    for t in others:
        t.start()
    while len(group._queue) < 5:
        time.sleep(0.001)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert outcomes[0] == "ok"
    assert [outcomes[i] for i in range(1, 6)] == ["database went away"] * 5  # the second batch, all of it
    assert group.submit(9) == "ok"  # and the group is free again


def test_a_write_returning_the_wrong_number_of_results_fails_loudly():
    group = GroupCommit(lambda items: [])
    with pytest.raises(ValueError):
        group.submit(1)
