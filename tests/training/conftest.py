from __future__ import annotations

import pytest
import torch

from tests.training.helpers import write_dataset

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def linear_data(tmp_path_factory):
    """16 episodes of 24 steps of known linear dynamics (shared, read-only)."""
    return write_dataset(tmp_path_factory.mktemp("data") / "linear.h5")
