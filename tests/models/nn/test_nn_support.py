"""torch_settings and RandomStream: safe for fits running at once in threads of one process."""

from __future__ import annotations

import os
import threading

import pytest

torch = pytest.importorskip("torch")

from tinyhar.models.nn.support import RandomStream, torch_settings  # noqa: E402


def test_random_streams_draw_the_same_numbers_however_they_interleave():
    alone = []
    for seed in (1, 2):
        stream = RandomStream(seed)
        with stream.turn():
            alone.append([torch.rand(3) for _ in range(2)])
    torch.manual_seed(1)  # a stream starts at manual_seed(seed): the numbers of a plain run
    assert torch.equal(alone[0][0], torch.rand(3))
    a, b = RandomStream(1), RandomStream(2)
    mixed = {1: [], 2: []}
    for _ in range(2):  # turns taken in alternation
        for seed, stream in ((2, b), (1, a)):
            with stream.turn():
                mixed[seed].append(torch.rand(3))
    for seed, draws in ((1, alone[0]), (2, alone[1])):
        assert all(torch.equal(x, y) for x, y in zip(mixed[seed], draws, strict=True))


def test_torch_settings_in_threads_at_once_restore_the_settings_once():
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    inside, first_left = [], threading.Event()
    both_in = threading.Barrier(2)

    def task(leaves_first: bool):
        with torch_settings(1):
            both_in.wait()
            if not leaves_first:
                first_left.wait()  # the other context is closed: this one keeps its settings
            inside.append((torch.get_num_threads(),
                           torch.are_deterministic_algorithms_enabled()))
        if leaves_first:
            first_left.set()

    threads = [threading.Thread(target=task, args=(first,)) for first in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inside == [(1, True), (1, True)]
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before


def test_nested_torch_settings_give_back_the_outer_thread_count():
    before = torch.get_num_threads()
    with torch_settings(1):
        with torch_settings(2):
            assert torch.get_num_threads() == min(2, os.cpu_count() or 1)
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_settings(None):  # keeps the count; an inner one is undone at its end
        with torch_settings(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before
