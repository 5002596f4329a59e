"""Save the bench's MLflow pyfunc models (bench_pyfunc.py) with the MLflow of the running interpreter.

    PYTHON save.py OUT_DIR

writes OUT_DIR/identity, OUT_DIR/iris and OUT_DIR/big.  bench/mlflow_models.py runs it with merlin-pyfunc-server's
venv, so the pickles are the ones Merlin's own MLflow writes; modelserve serves the same directories.
"""

import inspect
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"identity": "IdentityModel", "iris": "IrisModel", "big": "BigArrayModel"}


def main():
    out_dir = os.path.abspath(sys.argv[1])
    sys.path.insert(0, HERE)
    import bench_pyfunc
    import mlflow.pyfunc

    params = inspect.signature(mlflow.pyfunc.save_model).parameters
    kwargs = {"code_paths" if "code_paths" in params else "code_path": [os.path.join(HERE, "bench_pyfunc.py")]}
    if "pip_requirements" in params:  # skips MLflow's (slow) requirement inference
        kwargs["pip_requirements"] = ["mlflow", "scikit-learn"]
    for name, cls in MODELS.items():
        mlflow.pyfunc.save_model(path=os.path.join(out_dir, name), python_model=getattr(bench_pyfunc, cls)(),
                                 **kwargs)
    print(f"saved {', '.join(MODELS)} in {out_dir} with mlflow {mlflow.__version__}")


if __name__ == "__main__":
    main()
