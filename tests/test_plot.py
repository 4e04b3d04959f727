"""Pictures render with the Agg backend into real PNG files."""
import numpy as np
import pytest

import fastnn as fn

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")


def is_png(path):
    data = open(path, "rb").read()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_history_plot(tmp_path):
    X, y = fn.datasets.make_moons(100)
    m = fn.Sequential([fn.Dense(2, 8, activation="relu"), fn.Dense(8, 2)])
    m.compile(loss="softmax_cross_entropy", metrics=["accuracy"])
    h = m.fit(X, y, epochs=3, validation_split=0.2, verbose=0)
    fig = fn.plot.history(h, path=tmp_path / "h.png")
    assert len(fig.axes) == 2 and is_png(tmp_path / "h.png")


def test_decision_boundary_for_perceptron_and_mlp(tmp_path):
    X, y = fn.datasets.logic_gate("and")
    fn.plot.decision_boundary(fn.Perceptron().fit(X, y), X, y, path=tmp_path / "p.png")
    Xs, ys = fn.datasets.make_spirals(90, 3)
    m = fn.Sequential([fn.Dense(2, 8, activation="tanh"), fn.Dense(8, 3)])
    m.compile(loss="softmax_cross_entropy")
    m.fit(Xs, ys, epochs=2, verbose=0)
    fn.plot.decision_boundary(m, Xs, ys, path=tmp_path / "m.png", resolution=50)
    assert is_png(tmp_path / "p.png") and is_png(tmp_path / "m.png")
    with pytest.raises(ValueError, match="2-D inputs"):
        fn.plot.decision_boundary(m, np.zeros((3, 3)), ys[:3])


def test_activations_plot(tmp_path):
    fig = fn.plot.activations(path=tmp_path / "a.png")
    assert len([a for a in fig.axes if a.lines]) == 9 and is_png(tmp_path / "a.png")
