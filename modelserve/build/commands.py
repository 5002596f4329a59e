"""The ``build`` and ``manifests`` subcommands: their arguments, and handing over."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from modelserve.build import MANIFEST_KINDS, BuildError

if TYPE_CHECKING:
    from modelserve.build.progress import Progress

def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Package a source folder made for Seldon's s2i builder (MODEL_NAME.py; requirements.txt, setup.py, "
        "pyproject.toml or environment.yml; .s2i/environment) into a bundle that runs as is (--output) "
        "and/or an OCI image built with buildah (--image)."
    )
    add = parser.add_argument
    add("source", type=Path, help="the source folder")
    add("-e", "--env", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="set a variable")
    add("--wheels", action="append", default=[], type=Path, metavar="DIR", help="local wheels (/whl too if present)")
    add("-o", "--output", type=Path, metavar="DIR", help="write the bundle here")
    add("--image", metavar="NAME", help="build an OCI image with buildah")
    add("--base", metavar="IMAGE", help="base of --image (default: Debian with Python, built once and cached)")
    add("--python", default=sys.executable, metavar="PATH", help="Python of the bundle's venv (default: this one)")
    add("--force", action="store_true", help="replace an existing --output folder")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", default=None, help="steps and pip's output")
    verbosity.add_argument("-q", "--quiet", dest="verbose", action="store_false", help="warnings and errors only")


def add_manifests_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Write Kubernetes manifests (YAML) that run an image built by modelserve build."
    add = parser.add_argument
    add("image", help="the image, as the cluster pulls it")
    add("--bundle", type=Path, metavar="DIR", help="the bundle the image was built from: its model and variables")
    add("--kind", action="append", choices=MANIFEST_KINDS, help="deployment (with Service and HPA), kserve, seldon")
    add("--name", help="the resources' name (default: from the model name)")
    add("--namespace", metavar="NS")
    add("-e", "--env", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="set a variable")
    add("--parameters", metavar="JSON", help="constructor parameters: [{name, value, type}]")
    add("--replicas", type=int, default=1, metavar="N", help="replicas, the autoscaler's minimum (default 1)")
    add("--max-replicas", type=int, default=4, metavar="N", help="the autoscaler's maximum (default 4)")
    add("--target-cpu", type=int, default=80, metavar="PERCENT", help="the autoscaler's CPU target (default 80)")
    add("--cpu", default="1", help="CPU request (default 1)")
    add("--memory", default="1Gi", help="memory request and limit (default 1Gi)")
    add("--graceful-timeout", type=float, default=30.0, metavar="SECONDS", help="the server's drain time (default 30)")
    add("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output")


def run_build(args: argparse.Namespace) -> int:
    from modelserve.build.bundle import BuildOptions, build
    from modelserve.build.progress import Progress

    if args.output is None and args.image is None:
        print("modelserve build: error: give --output DIR, --image NAME or both", file=sys.stderr)
        return 2
    progress = Progress(verbose=args.verbose)
    options = BuildOptions(args.source, args.overrides, args.wheels, args.python, args.force)
    try:
        if args.output is not None:
            bundle = build(options, args.output, progress)
            print(f"bundle {bundle.path}: start it with {bundle.path / 'run'}")
            if args.image:
                _image(bundle.path, args.image, args.base, progress)
        else:
            with tempfile.TemporaryDirectory(prefix="modelserve-build-") as scratch:
                bundle = build(options, Path(scratch) / "bundle", progress)
                _image(bundle.path, args.image, args.base, progress)
    except BuildError as error:
        print(f"modelserve build: error: {error}", file=sys.stderr)
        return 1
    progress.say(f"done in {progress.elapsed():.1f} s")
    return 0


def _image(bundle: Path, name: str, base: str | None, progress: Progress) -> None:
    from modelserve.build.image import build_image

    image_id = build_image(bundle, name, base, progress)
    print(f"image {name} ({image_id[:12]})")


def run_manifests(args: argparse.Namespace) -> int:
    from modelserve.build.manifests import ManifestOptions, render

    try:
        text = render(ManifestOptions.from_args(args))
    except BuildError as error:
        print(f"modelserve manifests: error: {error}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0
