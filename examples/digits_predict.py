"""Load the digits model that ``digits_mlp.py`` saved and predict with it.

Builds the same architecture, loads the weights and the pixel statistics from
the checkpoint, and classifies the held-out test images again: the accuracy is
the one printed at the end of training, to the last image.

    python examples/digits_mlp.py            # writes digits_mlp.safetensors
    python examples/digits_predict.py [--checkpoint digits_mlp.safetensors]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import tinygrad_ann as tg


def training_script():
    """``digits_mlp.py`` beside this file: it defines the architecture and the data split."""
    spec = importlib.util.spec_from_file_location(
        "digits_mlp", Path(__file__).with_name("digits_mlp.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="digits_mlp.safetensors")
    arguments = parser.parse_args(argv)
    training = training_script()
    try:
        _, test_x, _, test_y = training.load_split()
    except ImportError:
        print("this example needs scikit-learn: pip install scikit-learn")
        return {"test_accuracy": None}

    checkpoint = tg.load(arguments.checkpoint)
    model = training.build_model()
    model.load_state_dict(checkpoint["model"])
    images = (test_x - checkpoint["pixel_mean"].numpy()) / checkpoint["pixel_std"].numpy()
    with tg.no_grad():
        predicted = model(tg.tensor(images)).numpy().argmax(axis=1)
    accuracy = float(np.mean(predicted == test_y))
    print(
        f"first ten test images: predicted {predicted[:10].tolist()}, true {test_y[:10].tolist()}"
    )
    print(
        f"test accuracy {accuracy:.2%} (at the end of training: "
        f"{checkpoint['test_accuracy']:.2%}, after {checkpoint['epochs']} epochs)"
    )
    return {"test_accuracy": accuracy, "saved_accuracy": checkpoint["test_accuracy"]}


if __name__ == "__main__":
    main()
