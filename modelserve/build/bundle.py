"""``modelserve build SRC --output DIR``: a source folder into a bundle that runs as is.

The bundle holds the source (``src/``), every package as a wheel (``wheels/``: a wheel
of this modelserve and the resolved dependencies), a venv with them installed
(``venv/``), the ``environment`` the server gets, and the ``run`` and ``install``
scripts, a ``Containerfile`` and s2i's ``assemble``/``run``/``usage``, so the same
folder is an image's build context. It is built in a hidden folder next to ``DIR`` and
renamed into place at the end: a failed build leaves nothing at ``DIR``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from typing import Any

from modelserve import __version__
from modelserve.build import BuildError, containerfile, self_wheel, source
from modelserve.build.dependencies import Dependencies, detect
from modelserve.build.progress import CommandFailed, Progress
from modelserve.build.s2i_environment import BuildEnvironment, parse_file, parse_overrides, resolve

ALWAYS_IGNORED = (".git", "__pycache__", "*.pyc", ".s2iignore")
S2I_SCRIPTS = {"assemble": "assemble", "run": "s2i-run", "usage": "usage"}


@dataclass
class BuildOptions:
    source: Path
    overrides: list[str] = field(default_factory=list)  # -e KEY=VALUE
    wheels: list[Path] = field(default_factory=list)  # --wheels DIR
    python: str = sys.executable
    force: bool = False


@dataclass
class Bundle:
    path: Path
    model_name: str
    service_type: str
    python_version: str
    environment: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> Bundle:
        try:
            info = json.loads((path / "bundle.json").read_text())
        except (OSError, ValueError) as error:
            raise BuildError(f"{path}: not a bundle written by modelserve build ({error})") from None
        return cls(path, info["model_name"], info["service_type"], info["python_version"], info["environment"])


def read_environment(options: BuildOptions) -> BuildEnvironment:
    src = options.source
    if not src.is_dir():
        raise BuildError(f"{src}: no such folder")
    environment_file = src / ".s2i" / "environment"
    assignments = parse_file(environment_file) if environment_file.is_file() else []
    return resolve([*assignments, *parse_overrides(options.overrides)], environment_file)


def build(options: BuildOptions, output: Path, progress: Progress) -> Bundle:
    src = options.source.resolve()
    options.source = src
    with progress.step(f"reading {src}"):
        environment = read_environment(options)
        for warning in environment.warnings:
            progress.warn(warning)
        module, class_name = source.split_name(environment.model_name)
        where = environment.where["MODEL_NAME"]
        class_file = source.module_file(src, module)
        if class_file is not None:
            source.check_class(class_file, class_name, where)
        python_version = _python_version(options.python)
        dependencies = detect(src, python_version)
        if class_file is None and dependencies.kind == "none":
            expected = "/".join(module.split(".")) + ".py"
            raise BuildError(
                f"{where}: MODEL_NAME={environment.model_name}: there is no {expected} in {src} "
                "and no requirements.txt, setup.py, pyproject.toml or environment.yml to install it from"
            )
        for note in dependencies.notes:
            progress.say(f"    {note}")
        for warning in dependencies.warnings:
            progress.warn(warning)
        progress.say(f"    {environment.model_name} ({environment.service_type}), {dependencies.describe()}")
        find_links = [_wheel_folder(folder) for folder in options.wheels]
        if Path("/whl").is_dir():
            find_links.append(Path("/whl"))
    output = output.absolute()
    if output.exists() and not options.force:
        raise BuildError(f"{output} exists: give --force to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    in_place = dependencies.conda is not None  # a conda environment cannot be moved after it is made
    if in_place:
        _remove(output)
        output.mkdir()
        staging = output
    else:
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
        staging.chmod(0o755)
    try:
        _assemble(options, environment, dependencies, find_links, staging, python_version, class_file, progress)
        if not in_place:
            _relocate_venv(staging / "venv", staging, output)
            _replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(output, environment.model_name, environment.service_type, python_version, environment.runtime)


def _assemble(
    options: BuildOptions,
    environment: BuildEnvironment,
    dependencies: Dependencies,
    find_links: list[Path],
    staging: Path,
    python_version: str,
    class_file: Path | None,
    progress: Progress,
) -> None:
    src = options.source
    with progress.step("copying the source"):
        copy_source(src, staging / "src")
        scratch = staging / ".scratch"
        modelserve_wheel = self_wheel.write_wheel(scratch)
    python, pip = _create_environment(options.python, dependencies, staging, progress)
    pip_options = [f"--find-links={folder}" for folder in find_links]
    if environment.pip.get("EXTRA_INDEX_URL"):
        pip_options.append(f"--extra-index-url={environment.pip['EXTRA_INDEX_URL']}")
    for host in environment.pip.get("PIP_TRUSTED_HOST", "").split():
        pip_options.append(f"--trusted-host={host}")
    pip_env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    pip_env.update({k: v for k, v in environment.pip.items() if k.startswith("PIP_")})
    requirements = list(dependencies.requirements)
    if dependencies.kind == "requirements.txt":
        requirements = ["-r", str(staging / "src" / "requirements.txt")]
    elif dependencies.kind == "project":
        project = scratch / "project"  # built outside src/, so no build/ or *.egg-info lands there
        copy_source(src, project)
        requirements = [str(project)]
    wheels = staging / "wheels"
    with progress.step(f"collecting the packages into wheels/ ({dependencies.describe()})"):
        command = [*pip, "wheel", "--wheel-dir", str(wheels), "--progress-bar", "off"]
        _pip(
            command + pip_options + [str(modelserve_wheel), *requirements],
            staging,
            src,
            dependencies,
            pip_env,
            progress,
        )
    with progress.step("installing them"):
        files = sorted(str(path) for path in wheels.glob("*.whl"))
        command = [*pip, "install", "--no-index", "--no-deps", "--progress-bar", "off", *files]
        _pip(command, staging, src, dependencies, pip_env, progress)
    if class_file is None:
        _check_installed_class(python, staging / "src", src, environment, dependencies)
    with progress.step("writing the scripts, Containerfile and s2i scripts"):
        write_files(staging, environment, dependencies, python_version)
        shutil.rmtree(scratch)


def copy_source(src: Path, target: Path) -> None:
    patterns = list(ALWAYS_IGNORED)
    ignore_file = src / ".s2iignore"
    if ignore_file.is_file():
        lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
        patterns += [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]

    def ignored(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(src)
        return {
            name
            for name in names
            if any(fnmatch(name, pattern) or fnmatch((relative / name).as_posix(), pattern) for pattern in patterns)
        }

    shutil.copytree(src, target, ignore=ignored, symlinks=True)


def write_files(staging: Path, environment: BuildEnvironment, dependencies: Dependencies, python_version: str) -> None:
    lines = "".join(f"{key}={value}\n" for key, value in environment.runtime.items())
    header = "# The server's environment (.s2i/environment and -e of modelserve build); set variables win.\n"
    (staging / "environment").write_text(header + lines)
    (staging / "python-version").write_text(python_version + "\n")
    for name in ("run", "install"):
        _template(name, staging / name)
    s2i = staging / ".s2i"
    (s2i / "bin").mkdir(parents=True, exist_ok=True)
    (s2i / "environment").write_text(lines)
    for name, template in S2I_SCRIPTS.items():
        _template(template, s2i / "bin" / name)
    if dependencies.conda and dependencies.path is not None:
        shutil.copyfile(dependencies.path, staging / "conda.yml")
    text = containerfile.containerfile(environment.model_name, environment.service_type, python_version, __version__)
    (staging / "Containerfile").write_text(text)
    for name in (".containerignore", ".dockerignore", ".s2iignore"):
        (staging / name).write_text(containerfile.ignore_file())
    info: dict[str, Any] = {
        "model_name": environment.model_name,
        "service_type": environment.service_type,
        "python_version": python_version,
        "modelserve_version": __version__,
        "dependencies": dependencies.kind,
        "environment": environment.runtime,
    }
    (staging / "bundle.json").write_text(json.dumps(info, indent=2) + "\n")


def _template(name: str, target: Path) -> None:
    text = resources.files("modelserve.build").joinpath("templates", name).read_text()
    target.write_text(text)
    target.chmod(0o755)


def _create_environment(
    python: str, dependencies: Dependencies, staging: Path, progress: Progress
) -> tuple[Path, list[str]]:
    """The bundle's interpreter and the pip command that installs into it."""
    if dependencies.conda and dependencies.path is not None:
        prefix = staging / "conda-env"
        with progress.step(f"creating the conda environment of {dependencies.path.name}"):
            tool = dependencies.conda
            if Path(tool).name == "micromamba":
                command = [tool, "create", "-y", "-p", str(prefix), "-f", str(dependencies.path)]
            else:
                command = [tool, "env", "create", "-p", str(prefix), "-f", str(dependencies.path)]
            _run(command, f"{dependencies.path}: {Path(tool).name} could not create the environment", progress)
            conda_python = prefix / "bin" / "python"
            if not conda_python.exists():
                raise BuildError(f"{dependencies.path}: the environment has no python: add python to its dependencies")
            if subprocess.run([conda_python, "-m", "pip", "--version"], capture_output=True).returncode != 0:
                _run(
                    [str(conda_python), "-m", "ensurepip"], f"{dependencies.path}: no pip in the environment", progress
                )
        return conda_python, [str(conda_python), "-m", "pip"]
    with progress.step(f"creating the venv ({python})"):
        # pip comes from the build's own environment when it has one (pip --python): no copy in the venv
        own_pip = _own_pip()
        without_pip = ["--without-pip"] if own_pip else []
        _run([python, "-m", "venv", *without_pip, str(staging / "venv")], f"{python} -m venv failed", progress)
    venv_python = staging / "venv" / "bin" / "python"
    if own_pip:
        return venv_python, [sys.executable, "-m", "pip", "--python", str(venv_python)]
    return venv_python, [str(venv_python), "-m", "pip"]


def _own_pip() -> bool:
    """Whether the build runs with a pip that can install into another environment (--python, pip 22.3)."""
    try:
        import pip
    except ImportError:
        return False
    major, minor = (int(part) for part in pip.__version__.split(".")[:2])
    return (major, minor) >= (22, 3)


def _run(command: list[str], message: str, progress: Progress) -> None:
    try:
        progress.run(command)
    except CommandFailed as failed:
        raise BuildError(f"{message}:\n" + "\n".join(failed.output[-20:])) from None
    except FileNotFoundError:
        raise BuildError(f"{message}: {command[0]} not found") from None


def _pip(
    command: list[str], staging: Path, src: Path, dependencies: Dependencies, env: dict[str, str], progress: Progress
) -> None:
    try:
        progress.run(command, cwd=staging / "src", env=env)
    except CommandFailed as failed:
        output = [line.replace(str(staging / "src"), str(src)) for line in failed.output]
        raise BuildError(install_error(output, dependencies, failed.returncode)) from None


_NOT_FOUND = re.compile(r"(?:No matching distribution found for|satisfies the requirement) (\S+)")


def install_error(output: list[str], dependencies: Dependencies, returncode: int) -> str:
    """Name the file and line of the requirement pip could not install, when it says which."""
    what = dependencies.path or Path("modelserve's own dependencies")
    tail = "\n".join(output[-25:])
    found = next((match.group(1) for line in reversed(output) if (match := _NOT_FOUND.search(line))), None)
    if found and dependencies.path is not None and dependencies.path.is_file():
        name = re.split(r"[\s\[=<>!~;@]", found, maxsplit=1)[0]
        for number, line in enumerate(dependencies.path.read_text(errors="replace").splitlines(), 1):
            if _normalise(re.split(r"[\s\[=<>!~;@]", line.strip(), maxsplit=1)[0]) == _normalise(name):
                return f"{dependencies.path}:{number}: pip found no distribution of {found}\n{tail}"
    return f"installing the dependencies of {what} failed (pip exited with status {returncode}):\n{tail}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_installed_class(
    python: Path, copy: Path, src: Path, environment: BuildEnvironment, dependencies: Dependencies
) -> None:
    """MODEL_NAME's module is not in the source: it must come with the dependencies."""
    module, class_name = source.split_name(environment.model_name)
    where = environment.where["MODEL_NAME"]
    code = (
        "import importlib.util, sys\nspec = importlib.util.find_spec(sys.argv[1])\nprint(spec.origin if spec else '')"
    )
    result = subprocess.run([python, "-c", code, module], cwd=copy, capture_output=True, text=True)
    origin = result.stdout.strip() if result.returncode == 0 else ""
    if not origin or not Path(origin).is_file():
        expected = "/".join(module.split(".")) + ".py"
        raise BuildError(
            f"{where}: MODEL_NAME={environment.model_name}: there is no {expected} in {src} "
            f"and {dependencies.describe()} installs no module {module}"
        )
    source.check_class(Path(origin), class_name, where)


def _python_version(python: str) -> str:
    if python == sys.executable:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
    except OSError as error:
        raise BuildError(f"--python {python}: {error.strerror}") from None
    if result.returncode != 0:
        raise BuildError(f"--python {python}: cannot run it: {result.stderr.strip()}")
    return result.stdout.strip()


def _wheel_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise BuildError(f"--wheels {folder}: no such folder")
    return folder.resolve()


def _relocate_venv(venv: Path, old: Path, new: Path) -> None:
    """Scripts and activate files of a venv name its folder: point them at where it will be."""
    if not venv.is_dir():
        return
    before, after = str(old).encode(), str(new).encode()
    for path in [*(venv / "bin").iterdir(), venv / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if before in data and b"\0" not in data[:4096]:
            path.write_bytes(data.replace(before, after))


def _replace(staging: Path, output: Path) -> None:
    if output.exists() or output.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
        output.rename(old / "bundle")
        staging.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(output)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
