from pathlib import Path

import pytest

from modelserve.build import BuildError
from modelserve.build.source import check_class, module_file, split_name


def test_split_name() -> None:
    assert split_name("MyModel") == ("MyModel", "MyModel")
    assert split_name("pkg.models.Tree") == ("pkg.models", "Tree")


def test_module_file(tmp_path: Path) -> None:
    (tmp_path / "MyModel.py").write_text("")
    (tmp_path / "pkg" / "models").mkdir(parents=True)
    (tmp_path / "pkg" / "models" / "__init__.py").write_text("")
    assert module_file(tmp_path, "MyModel") == tmp_path / "MyModel.py"
    assert module_file(tmp_path, "pkg.models") == tmp_path / "pkg" / "models" / "__init__.py"
    assert module_file(tmp_path, "Missing") is None


@pytest.mark.parametrize(
    "text",
    [
        "class MyModel:\n    pass\n",
        "from .impl import Impl as MyModel\n",
        "MyModel = make()\n",
        "try:\n    import fast\nexcept ImportError:\n    class MyModel:\n        pass\n",
        "from impl import *\n",  # cannot be told without running it: left to start-up
    ],
)
def test_the_class_is_found(tmp_path: Path, text: str) -> None:
    path = tmp_path / "MyModel.py"
    path.write_text(text)
    check_class(path, "MyModel", "env:1")


def test_a_class_that_is_not_in_the_file_is_named_with_what_is(tmp_path: Path) -> None:
    path = tmp_path / "MyModel.py"
    path.write_text("import os\n\n\nclass Model:\n    pass\n\n\nclass Helper:\n    pass\n")
    with pytest.raises(BuildError) as raised:
        check_class(path, "MyModel", "src/.s2i/environment:1")
    assert str(raised.value) == (
        f"{path}: no class MyModel in this file (MODEL_NAME at src/.s2i/environment:1); "
        "classes there: Model (line 4), Helper (line 8)"
    )


def test_a_syntax_error_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "MyModel.py"
    path.write_text("class MyModel:\n    def predict(self X):\n        pass\n")
    with pytest.raises(BuildError, match=f"^{path}:2: "):
        check_class(path, "MyModel", "env:1")
