"""The temporal-distance embedding: distances count steps along the data's paths, not straight
lines, so a wall is no short cut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forethought.core.errors import ForethoughtError
from forethought.models.temporal_distance import (
    TemporalDistanceConfig,
    episode_bounds,
    fit_temporal_embedding,
    step_distance,
)

# A 5x5 grid with a wall in column 2 over rows 0-3: the only way across is row 4.
SIZE, WALL = 5, {(2, r) for r in range(4)}
FREE = [(c, r) for c in range(SIZE) for r in range(SIZE) if (c, r) not in WALL]


def _neighbours(c: int, r: int) -> list[tuple[int, int]]:
    out = [(c + dc, r + dr) for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    return [(a, b) for a, b in out if 0 <= a < SIZE and 0 <= b < SIZE and (a, b) not in WALL]


def _bfs(start: tuple[int, int]) -> dict[tuple[int, int], int]:
    dist, frontier = {start: 0}, [start]
    while frontier:
        nxt = []
        for cell in frontier:
            for n in _neighbours(*cell):
                if n not in dist:
                    dist[n] = dist[cell] + 1
                    nxt.append(n)
        frontier = nxt
    return dist


def _random_walks(episodes: int = 300, steps: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    rows, ids = [], []
    for e in range(episodes):
        cell = FREE[rng.integers(len(FREE))]
        for _ in range(steps):
            rows.append(cell)
            ids.append(e)
            options = _neighbours(*cell)
            cell = options[rng.integers(len(options))]
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(ids)  # (N, 2), (N,)


@pytest.fixture(scope="module")
def grid_phi():
    torch.manual_seed(0)
    z, episode = _random_walks()
    cfg = TemporalDistanceConfig(
        steps=1500, batch_size=512, lr=1e-3, dim=16, width=128, polyak=0.02
    )
    return fit_temporal_embedding(z, episode, cfg)


def test_distance_follows_the_path_around_the_wall_not_the_straight_line(grid_phi):
    corner, by_door, goal = (0, 0), (0, 4), (4, 0)
    # Straight lines say the corner is nearer the goal (4 vs 5.7); paths say the opposite (12 vs 8).
    z = torch.tensor([corner, by_door], dtype=torch.float32)
    g = torch.tensor([goal, goal], dtype=torch.float32)
    d_corner, d_door = step_distance(grid_phi, z, g).tolist()
    assert d_door < d_corner


def test_distance_ranks_cells_like_the_shortest_path(grid_phi):
    from scipy.stats import spearmanr

    goal = (4, 0)
    truth = _bfs(goal)
    z = torch.tensor(FREE, dtype=torch.float32)
    d = step_distance(grid_phi, z, torch.tensor([goal], dtype=torch.float32).expand_as(z))
    rho = spearmanr(d.numpy(), [truth[c] for c in FREE])[0]
    euclid = spearmanr(np.hypot(*(np.array(FREE) - goal).T), [truth[c] for c in FREE])[0]
    assert rho > 0.9 > euclid


def test_episode_bounds_finds_each_rows_episode():
    start, end = episode_bounds(torch.tensor([3, 3, 3, 7, 7, 1]))
    assert start.tolist() == [0, 0, 0, 3, 3, 5]
    assert end.tolist() == [3, 3, 3, 5, 5, 6]


def test_bad_inputs_get_one_line_errors():
    z = torch.zeros(4, 2)
    with pytest.raises(ForethoughtError, match="one id per row"):
        fit_temporal_embedding(z, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ForethoughtError, match="NaN"):
        fit_temporal_embedding(torch.full((4, 2), float("nan")), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ForethoughtError, match="at least two rows"):
        fit_temporal_embedding(z, torch.arange(4))
    with pytest.raises(ForethoughtError, match="expectile"):
        TemporalDistanceConfig(expectile=1.0)
