"""docs/CLI.md is the parsers' own flag table, and the flags keep one meaning each."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cog.cli import build_parser, main
from cog.cli_table import flag_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "CLI.md"


def test_docs_cli_md_is_current():
    assert DOC.read_text() == flag_table(), \
        "docs/CLI.md is stale: run `python -m cog.cli_table > docs/CLI.md`"


def _visible_flags(command: list[str]) -> set[str]:
    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings}


def test_one_spelling_per_meaning():
    # parallelism is --workers wherever a command runs things at once
    for command in (["collect"], ["eval"], ["demo"]):
        flags = _visible_flags(command)
        assert "--workers" in flags and not {"--jobs", "--ray"} & flags, command
    assert "--overwrite" in _visible_flags(["robot", "keygen"])
    assert "--env" in _visible_flags(["robot", "serve"])
    assert "--task" not in _visible_flags(["robot", "serve"])  # --task is a dataset path
    assert "--zoom" in _visible_flags(["data", "video"])  # --scale is a dataset size
    assert "--net" in _visible_flags(["demo"])  # --obs names an observation kind
    # --resume takes the directory to continue in train and deploy alike
    parser = build_parser()
    assert parser.parse_args(["deploy", "--policy", "grasp", "--resume", "runs/x"]).resume == \
        "runs/x"
    assert parser.parse_args(["train", "--resume", "runs/y"]).resume == "runs/y"


@pytest.mark.parametrize("argv,dest,value", [
    (["eval", "--run", "r", "--ray"], "workers", 0),
    (["demo", "--jobs", "3"], "workers", 3),
    (["demo", "--obs", "thumb"], "net", "thumb"),
    (["robot", "keygen", "--out", "k", "--force"], "overwrite", True),
    (["robot", "serve", "--task", "cog/Place-v0"], "env", "cog/Place-v0"),
    (["data", "video", "f.h5", "--out", "g.gif", "--scale", "2"], "zoom", 2),
    (["collect", "--preset", "closed_drawer"], "preset", "closed-drawer"),
    (["train", "--eval-ray"], "eval_workers", 0),
])
def test_old_spellings_still_work_with_a_note(argv, dest, value, capsys):
    from cog.cli import configure_logging

    configure_logging()
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    assert "is now" in capsys.readouterr().err


def test_train_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "gamma in the TD target (default 0.99)" in out
    assert "n-step returns in the TD target (1 = COG)" in out
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices["train"]._actions:
        if action.help != argparse.SUPPRESS and action.dest != "help":
            assert action.help and not action.help.startswith("(default"), action.dest
