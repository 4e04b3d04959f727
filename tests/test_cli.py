"""The command line: the main job, model files, and argparse-style errors."""
import subprocess
import sys

import pytest
from conftest import child_kwargs


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True,
                          text=True, timeout=timeout, **child_kwargs())


def test_train_default_digits_prints_progress_and_accuracy(tmp_path):
    model = tmp_path / "d.fnn"
    r = cli("train", "--epochs", "5", "--hidden", "64", "--batch-size", "32", "--lr", "0.005",
            "--save", str(model), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "digits: 1,438 train / 359 test" in r.stdout
    assert "Epoch 5/5" in r.stdout and "test accuracy" in r.stdout
    acc = float(r.stdout.rsplit("test accuracy", 1)[1].split("%")[0])
    assert acc > 90
    r = cli("evaluate", str(model))
    assert r.returncode == 0 and "accuracy:" in r.stdout
    r = cli("predict", str(model), "--limit", "3")
    assert r.returncode == 0 and r.stdout.count("predicted") == 3
    r = cli("info", str(model))
    assert r.returncode == 0 and "Dense(64, 64, relu)" in r.stdout


@pytest.mark.parametrize("args,match", [
    (["train", "--dataset", "cifar"], "invalid choice"),
    (["train", "--lr", "-1"], "must be positive"),
    (["train", "--hidden", "64,x"], "comma-separated"),
    (["train", "--dropout", "1.5"], "in [0, 1)"),
    (["train", "--epochs", "0"], "must be positive"),
    (["frobnicate"], "invalid choice"),
    (["train", "--seed", "-1"], "seeds are integers >= 0"),
    (["evaluate", "m.fnn", "--seed", "-3"], "seeds are integers >= 0"),
    # checked before training, which used to run in full and then fail to save
    (["train", "--save", "/nonexistent-dir/m.fnn"], "does not exist"),
    (["train", "--save", "/"], "is a directory"),
    (["train", "--save", ""], "expected a file name"),
])
def test_bad_options_are_argparse_errors(args, match):
    r = cli(*args)
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr


def test_damaged_model_file_is_an_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.fnn"
    bad.write_bytes(b"not a model")
    for cmd in ("evaluate", "info", "predict"):
        r = cli(cmd, str(bad))
        assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_config_command():
    r = cli("config")
    assert r.returncode == 0 and "isa:" in r.stdout and "threads:" in r.stdout


def test_predict_needs_one_score_per_class(tmp_path):
    """A 1-output model printed 'predicted 0 (p=-1.258)' for every sample."""
    import fastnn as fn
    m = fn.Sequential([fn.Dense(64, 1)])
    m.compile(optimizer="sgd", loss="mse")
    m.build((64,))
    m.save(tmp_path / "one.fnn")
    r = cli("predict", str(tmp_path / "one.fnn"))
    assert r.returncode == 1 and "1 output(s)" in r.stderr and "Traceback" not in r.stderr


def test_diverged_training_fails_and_keeps_the_old_model_file(tmp_path):
    """--lr 1e30 used to exit 0 with 'test loss nan' and save the diverged model."""
    path = tmp_path / "m.fnn"
    path.write_bytes(b"the user's earlier model")
    r = cli("train", "--lr", "1e30", "--epochs", "2", "--quiet", "--save", str(path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "training diverged" in r.stderr and "try a lower --lr" in r.stderr
    assert "was not written" in r.stderr and "saved to" not in r.stdout
    assert path.read_bytes() == b"the user's earlier model"


def test_main_called_from_python_leaves_warning_format_as_it_was(capsys):
    import warnings

    from fastnn.__main__ import main
    before = warnings.formatwarning
    assert main(["config"]) == 0
    assert warnings.formatwarning is before
