"""The allocator setting for end-to-end training: freed large blocks are reused."""

from __future__ import annotations

import resource

import pytest
import torch

from forethought.core import allocator


def _page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _faults_over_five_40mb_tensors() -> int:
    for _ in range(15):  # the heap settles (kept, the first 6 still faulted in a scratch run)
        x = torch.ones(10_000_000)  # 40 MB: above glibc's largest mmap threshold, 32 MiB
        del x
    before = _page_faults()
    for _ in range(5):
        x = torch.ones(10_000_000)
        del x
    return _page_faults() - before


def test_kept_a_freed_large_block_is_reused_without_page_faults():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if not allocator.keep_freed_memory():
            pytest.skip("the allocator setting needs glibc")
        assert allocator.is_kept()
        kept = _faults_over_five_40mb_tensors()
    finally:
        allocator.return_freed_memory()
        torch.set_num_threads(threads)
    assert not allocator.is_kept()
    assert kept < 2000, kept  # glibc's default maps each one afresh: 5 x 9,766 pages


def test_the_setting_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("FORETHOUGHT_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False
    assert not allocator.is_kept()
