"""Save the pyfunc test models (pyfunc_*.py here) as MLflow model directories.

    python save.py OUT_DIR

writes OUT_DIR/<name>/ for every entry of MODELS, with ``mlflow.pyfunc.save_model``; each
model's module travels in its ``code/`` directory, so a directory loads on its own.  Run
in a process of its own (tests/conftest.py's ``pyfunc_models`` fixture does): saving
imports the model modules.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (module, class)
MODELS = {
    "echo": ("pyfunc_echo", "EchoModel"),
    "iris": ("pyfunc_iris", "IrisModel"),
    "v3": ("pyfunc_v3", "SumModel"),
    "error": ("pyfunc_error", "ErrorModel"),
    "headers": ("pyfunc_headers", "HeadersModel"),
    "metrics": ("pyfunc_metrics", "CountingModel"),
    "plain": ("pyfunc_plain", "PlainModel"),
    "legacy": ("pyfunc_legacy", "LegacyModel"),
    "async": ("pyfunc_async", "AsyncModel"),
}


def iris_classifier(directory: Path) -> Path:
    """A small scikit-learn classifier trained on iris, pickled: the iris model's artifact."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    path = directory / "classifier.pkl"
    path.write_bytes(pickle.dumps(LogisticRegression(max_iter=500).fit(X, y)))
    return path


def save(name: str, out_dir: Path, scratch: Path) -> Path:
    import mlflow.pyfunc

    module, cls = MODELS[name]
    model = getattr(importlib.import_module(module), cls)()
    path = out_dir / name
    artifacts = {"classifier": str(iris_classifier(scratch))} if name == "iris" else None
    mlflow.pyfunc.save_model(
        path=str(path),
        python_model=model,
        artifacts=artifacts,
        code_paths=[str(HERE / f"{module}.py")],
        pip_requirements=["mlflow"],  # no requirement inference (slow)
    )
    return path


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = Path(sys.argv[1]).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as scratch:
        for name in MODELS:
            save(name, out_dir, Path(scratch))
    print(f"saved {len(MODELS)} models in {out_dir}")


if __name__ == "__main__":
    main()
