"""The command line, run as a user would: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest


def forethought(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forethought.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("forethought: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_collect_inspect_check_export_import(tmp_path):
    out = tmp_path / "two_room.h5"
    proc = forethought(
        "collect",
        "forethought/TwoRoom-v0",
        "--episodes",
        "4",
        "--max-steps",
        "10",
        "--obs",
        "both",
        "--out",
        str(out),
        "--workers",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 4 episodes" in proc.stdout
    plot = tmp_path / "coverage.png"
    proc = forethought("data", "inspect", str(out), "--plot", str(plot))
    assert proc.returncode == 0, proc.stderr
    assert "4 episodes, 40 steps" in proc.stdout and "obs/pixels" in proc.stdout
    assert plot.stat().st_size > 1000
    assert forethought("data", "check", str(out)).stdout.strip().endswith("ok")
    npz = tmp_path / "d.npz"
    assert forethought("data", "export", str(out), "--to", "npz", "--out", str(npz)).returncode == 0
    back = tmp_path / "back.h5"
    proc = forethought("data", "import", str(npz), "--from", "npz", "--out", str(back))
    assert proc.returncode == 0, proc.stderr
    assert forethought("data", "check", str(back)).returncode == 0


def test_envs_lists_builtins():
    proc = forethought("envs")
    assert proc.returncode == 0 and "forethought/TwoRoom-v0" in proc.stdout


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("collect", "Pendulum-v9", "--out", "x.h5"), ("unknown env id", "Pendulum-v1")),
        (("collect", "Pendulum-v1", "--policy", "nope:make", "--out", "x.h5"), ("cannot import",)),
        (("collect", "Pendulum-v1", "--episodes", "0"), ("--episodes must be at least 1",)),
        (("data", "inspect", "missing.h5"), ("missing.h5: no such file",)),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragments):
    assert_one_line_error(forethought(*args, cwd=tmp_path), *fragments)


def test_corrupt_file_and_existing_out(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert_one_line_error(forethought("data", "inspect", str(bad)), "corrupt or truncated")
    proc = forethought("data", "check", str(bad))
    assert proc.returncode == 2 and "corrupt or truncated" in proc.stdout
    out = tmp_path / "p.h5"
    assert (
        forethought("collect", "Pendulum-v1", "--episodes", "2", "--out", str(out)).returncode == 0
    )
    assert_one_line_error(
        forethought("collect", "Pendulum-v1", "--episodes", "3", "--out", str(out)),
        "already exists; pass --resume",
    )
    proc = forethought("collect", "Pendulum-v1", "--episodes", "3", "--out", str(out), "--resume")
    assert proc.returncode == 0 and "now 3 episodes" in proc.stdout
    assert_one_line_error(
        forethought(
            "collect",
            "Pendulum-v1",
            "--episodes",
            "4",
            "--out",
            str(out),
            "--resume",
            "--obs",
            "both",
        ),
        "cannot append",
    )
