"""``kill -9`` during collection leaves a readable file with every finished episode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from forethought.data.check import check_dataset
from forethought.data.reader import Dataset
from tests.conftest import make_episode

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import make_episode, make_meta
    from forethought.data.writer import DatasetWriter
    w = DatasetWriter.create({path!r}, make_meta(), initial_steps=32)
    i = 0
    while True:
        w.append(make_episode(i, 3 + i % 11))
        print(i, flush=True)
        i += 1
    """
)


@pytest.mark.parametrize("kill_after", [1, 7, 40, 113])
def test_kill_9_keeps_every_finished_episode(tmp_path, kill_after):
    path = tmp_path / "crash.h5"
    tests = os.path.dirname(__file__) + "/.."
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(tests=tests, path=str(path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if int(line) >= kill_after:
                break  # the writer is somewhere inside the next append (or growth) now
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    reported = int(line) + 1
    with Dataset(path) as ds:
        assert ds.n_episodes >= reported  # nothing reported as written is lost
        for i in range(ds.n_episodes):
            want = make_episode(i, 3 + i % 11)
            np.testing.assert_array_equal(ds.episode(i).obs["state"], want.obs["state"])
            np.testing.assert_array_equal(ds.episode(i).obs["pixels"], want.obs["pixels"])
    assert check_dataset(path) == []
