"""A reader that goes away (`cog data info FILE | head`) stops the command quietly."""

from __future__ import annotations

import subprocess
import sys

from cog.cli import main
from cog.testing import random_dataset
from data_collection.hdf5_format import save_dataset


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_the_command_with_141_and_no_traceback(tmp_path, monkeypatch, capsys):
    path = tmp_path / "d.h5"
    save_dataset(path, random_dataset(2, 3, image_size=8))
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["data", "info", str(path)]) == 141
    assert capsys.readouterr().err == ""


def test_a_real_pipe_closed_by_its_reader(tmp_path):
    path = tmp_path / "d.h5"
    save_dataset(path, random_dataset(2, 3, image_size=8))
    proc = subprocess.Popen([sys.executable, "-m", "cog", "data", "info", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # gone before the command (still importing) writes a line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
