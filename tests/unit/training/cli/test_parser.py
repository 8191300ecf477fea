"""training.cli.parser and training.cli.arguments: fast help with every exit code, one-line usage errors
(exit 2), the README's exit-code table equal to the one --help prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from training.__main__ import main
from training.cli.parser import build_parser
from training.errors import EXIT_CODES, EXIT_USAGE

from testing.training_helpers import REPO, Cli, fresh_python


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from training.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['train', '--help'])\n"
        "print(sorted(m for m in ('torch', 'mlflow', 'transformers', 'sklearn', 'numpy') if m in sys.modules))\n"
    )
    assert fresh_python(code).strip() == "[]"


def test_the_process_prints_help_with_its_name() -> None:
    result = Cli("http://127.0.0.1:9", Path("/nonexistent")).run("train", "--help", timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m training train") and "exit codes:" in result.stdout


@pytest.mark.parametrize("command", [[], ["pipeline"], ["train"], ["seed"]])
def test_help_lists_every_exit_code(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m training {' '.join(command)}".rstrip())
    rows = [row.split(maxsplit=1) for row in out.partition("exit codes:\n")[2].splitlines()]
    assert {int(code): meaning for code, meaning in rows} == EXIT_CODES


def test_readme_lists_the_exit_codes_of_errors_py() -> None:
    readme = (REPO / "services" / "training" / "README.md").read_text()
    # | 2 | bad usage, `--device cuda` ... |: the table's rows, markdown quoting aside.
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", readme, flags=re.MULTILINE)

    assert {int(code): meaning.replace("`", "") for code, meaning in rows} == EXIT_CODES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required"),
        (["train", "--epochs", "0"], "argument --epochs: must be at least 1"),
        (["train", "--lr", "fast"], "argument --lr: invalid positive number value: 'fast'"),
        (["train", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["train", "--seed", "-1"], "argument --seed: must be between 0 and 2**32 - 1"),
        (["train", "--promote", "maybe"], "argument --promote: invalid choice"),
        (["seed", "--alias", "v2"], "argument --alias: invalid alias 'v2'"),
        (["train", "--challenger-alias", "v3"], "argument --challenger-alias: invalid alias 'v3'"),
        (["train", "--nproc-per-node", "0"], "--nproc-per-node: must be a positive number or 'all'"),
        (["train", "--nproc-per-node", "two"], "--nproc-per-node: must be a positive number or 'all'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    # A real process: argparse exits by itself, before the command's failure handling.
    result = Cli("http://127.0.0.1:9", Path("/nonexistent")).run(*args, timeout=60)
    assert result.returncode == EXIT_USAGE
    [line] = result.stderr.strip().splitlines()
    assert message in line and line.endswith("(see --help)") and "Traceback" not in result.stderr


@pytest.mark.parametrize(("given", "parsed"), [("3", 3), ("all", "all"), ("gpu", "gpu")])
def test_every_gpu_is_all_or_torchruns_gpu(given: str, parsed: int | str) -> None:
    args = build_parser().parse_args(["train", "--nproc-per-node", given])
    assert args.nproc_per_node == parsed


def test_every_train_option_has_a_default_the_config_takes(tmp_path: Path) -> None:
    """Parsed with no flags, `train` names every TrainConfig field the command passes (the command's
    end-to-end use of each flag: tests/unit/training/cli/test_commands.py)."""
    from dataclasses import fields

    from training.config import TrainConfig

    args = vars(build_parser().parse_args(["train"]))
    passed = {f.name for f in fields(TrainConfig)} - {"data_dir", "tags", "progress"}
    assert passed <= set(args), passed - set(args)
    defaults = TrainConfig(data_dir=tmp_path, tracking_uri="")
    assert (args["epochs"], args["batch_size"], args["lr"], args["seed"]) == (
        defaults.epochs, defaults.batch_size, defaults.lr, defaults.seed,
    )  # fmt: skip
