from setuptools import setup

setup(
    name="scaler-model",
    version="1.0",
    py_modules=["scaling"],
    install_requires=["packaging"],
)
