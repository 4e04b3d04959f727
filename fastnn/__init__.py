"""fastnn: fast CPU multi-layer perceptrons with C/Cython kernels.

>>> import fastnn as fn
>>> model = fn.Sequential([fn.Dense(64, 64, activation="relu"), fn.Dense(64, 10)], seed=0)
>>> model.compile(optimizer=fn.Adam(lr=1e-3), loss="softmax_cross_entropy",
...               metrics=["accuracy"])                                # doctest: +SKIP
"""
from fastnn import (
                              callbacks,
                              datasets,
                              initializers,
                              losses,
                              metrics,
                              model_selection,
                              ops,  # noqa: E402  (kernels first: fail early if the build is broken)
                              optimizers,
                              plot,
                              regularizers,
                              utils,
)
from fastnn._version import __version__
from fastnn.callbacks import (
                              Callback,
                              CSVLogger,
                              EarlyStopping,
                              History,
                              LambdaCallback,
                              LearningRateScheduler,
                              ModelCheckpoint,
                              ReduceLROnPlateau,
                              TerminateOnNaN,
)
from fastnn.config import (
                              get_flush_denormal,
                              get_isa,
                              get_num_threads,
                              set_flush_denormal,
                              set_num_threads,
                              show_config,
)
from fastnn.io import ModelFileError, load_model
from fastnn.layers import Activation, Dense, Dropout, Flatten, Input, Layer
from fastnn.linear import Adaline, Perceptron
from fastnn.losses import (
                              BinaryCrossEntropy,
                              Huber,
                              MeanAbsoluteError,
                              MeanSquaredError,
                              SoftmaxCrossEntropy,
)
from fastnn.model import Sequential
from fastnn.normalization import BatchNorm, BatchNormalization, LayerNorm, LayerNormalization
from fastnn.optimizers import (
                              SGD,
                              Adagrad,
                              Adam,
                              AdamW,
                              CosineDecay,
                              ExponentialDecay,
                              RMSProp,
                              StepDecay,
)
from fastnn.regularizers import L1, L1L2, L2

__all__ = [
    "__version__", "get_isa", "get_num_threads", "set_num_threads", "show_config", "ops",
    "set_flush_denormal", "get_flush_denormal",
    "callbacks", "datasets", "model_selection", "utils", "plot", "initializers", "losses",
    "metrics", "optimizers", "regularizers", "Callback", "CSVLogger", "EarlyStopping",
    "History", "LearningRateScheduler", "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback",
    "ReduceLROnPlateau", "Layer", "Dense", "Activation", "Dropout", "Flatten", "Input",
    "BatchNorm", "LayerNorm", "BatchNormalization", "LayerNormalization", "Sequential",
    "Perceptron",
    "Adaline", "load_model", "ModelFileError", "SGD", "Adagrad", "RMSProp", "Adam", "AdamW",
    "StepDecay", "ExponentialDecay", "CosineDecay", "MeanSquaredError", "MeanAbsoluteError",
    "Huber", "BinaryCrossEntropy", "SoftmaxCrossEntropy", "L1", "L2", "L1L2",
]
