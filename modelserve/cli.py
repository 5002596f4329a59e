"""The command line: parse, build the settings, hand over to the server.

``modelserve serve INTERFACE_NAME [flags]``; ``seldon-core-microservice INTERFACE_NAME
[flags]`` is the same command under the original's name.  ``modelserve serve --model-dir
DIR`` serves an MLflow pyfunc model instead, and ``merlin-pyfunc-server --model_dir DIR``
is that command under Merlin's name.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from modelserve import logs
from modelserve.build import commands as build_commands
from modelserve.errors import StartupError
from modelserve.settings import (
    ANNOTATIONS_FILE,
    ANNOTATIONS_VARIABLE,
    LEGACY_PORT_VARIABLE,
    MERLIN_SOURCES,
    OPTIONS,
    Option,
    Settings,
    SettingsError,
    convert,
    legacy_ports,
    merlin_option,
)
from modelserve.version import __version__

logger = logging.getLogger("modelserve")


def _describe(option: Option) -> str:
    where = f" [env: {', '.join(option.env)}]" if option.env else ""
    if option.annotation:
        where += f" [annotation: {option.annotation}]"
    default = "" if option.default in (None, [], "", {}) else f" (default: {option.default})"
    if option.name in MERLIN_SOURCES:
        merlin = merlin_option(option)
        default += f" (with --model-dir: env {', '.join(merlin.env)}, default {merlin.default})"
    return f"{option.help}{where}{default}"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "interface_name",
        nargs="?",
        help="the user's class: Module (class Module in Module.py) or package.module.Class "
        "(or --model-dir) [env: MODEL_NAME]",
    )
    for option in OPTIONS:
        if option.flag is None:
            continue
        # Merlin's spelling of its two flags works too (--model_dir, --dry_run).
        flags: tuple[str, ...] = (option.flag,)
        if option.name in _MERLIN_FLAGS:
            flags += ("--" + option.flag[2:].replace("-", "_"),)
        if option.is_flag:
            parser.add_argument(
                *flags,
                dest=option.name,
                nargs="?",
                const="true",
                default=None,
                metavar="BOOL",
                help=_describe(option),
            )
        else:
            parser.add_argument(*flags, dest=option.name, default=None, metavar=option.metavar, help=_describe(option))
    parser.add_argument("--persistence", nargs="?", const="1", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--port",
        dest="legacy_port",
        default=None,
        metavar="PORT",
        help=f"Deprecated (Seldon's wrapper before 1.5, with {LEGACY_PORT_VARIABLE}): the port of the API type "
        "given after the class name, REST (the default) or GRPC; use --http-port or --grpc-port.",
    )
    env_only = "\n".join(f"  {', '.join(o.env)}: {_describe_env(o)}" for o in OPTIONS if o.flag is None)
    annotated = ", ".join(f"{o.annotation} ({o.flag})" for o in OPTIONS if o.annotation)
    parser.epilog = (
        "settings taken from the environment only:\n"
        + env_only
        + f"\n\nA flag beats a variable, a variable beats a pod annotation ({annotated}; read from "
        f"{ANNOTATIONS_FILE} or the file {ANNOTATIONS_VARIABLE} names), an annotation beats the default."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.set_defaults(parser=parser)


_MERLIN_FLAGS = ("model_dir", "dry_run")


def _describe_env(option: Option) -> str:
    default = "" if option.default in (None, [], "") else f" (default: {option.default})"
    return f"{option.help}{default}"


def parse_serve_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; what is left over is the old API type argument or a mistake explained."""
    args, extra = parser.parse_known_args(argv)
    serve: argparse.ArgumentParser = args.parser
    flags = [arg for arg in extra if arg.startswith("-")]
    if flags:
        serve.error(f"unknown flag {flags[0]} (`{serve.prog} --help` lists every flag)")
    if len(extra) > 1:
        serve.error(f"unexpected arguments after the class name: {' '.join(extra)}")
    args.api_type = extra[0] if extra else None
    return args


def settings_from_args(
    args: argparse.Namespace, warnings: list[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """The settings of the command line over ``environ`` (default: the process's environment);
    its deprecation warnings are added to ``warnings``."""
    environ = os.environ if environ is None else environ
    given: dict[str, Any] = {}
    for option in OPTIONS:
        if option.flag is None:
            continue
        text = getattr(args, option.name)
        if text is not None:
            given[option.name] = convert(option, text, source=option.flag)
    legacy, said = legacy_ports(getattr(args, "api_type", None), args.legacy_port, given, environ)
    if warnings is not None:
        warnings += said
    if args.interface_name and given.get("model_dir") is not None:
        raise SettingsError("give a class (INTERFACE_NAME) or --model-dir, not both")
    return Settings.load(args.interface_name or "", {**given, **legacy}, environ)


def run_serve(args: argparse.Namespace) -> int:
    from modelserve.workers import run

    warnings: list[str] = []
    try:
        settings = settings_from_args(args, warnings)
    except SettingsError as error:
        for warning in warnings:
            print(f"modelserve: warning: {warning}", file=sys.stderr)
        print(f"modelserve: error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.effective_log_level, settings.log_format)
    for warning in warnings:
        logger.warning(warning)
    for option in OPTIONS:
        source = settings.sources.get(option.name, "")
        if option.annotation and source.endswith(f": {option.annotation}"):
            logger.info("%s %s from the pod annotation %s", option.flag, getattr(settings, option.name), source)
    if args.persistence is not None:
        logger.warning("--persistence is deprecated and ignored")
    try:
        if settings.dry_run:
            return _dry_run(settings)
        return run(settings)
    except StartupError as error:
        logger.error("cannot start: %s", error)
        return 1


def _dry_run(settings: Settings) -> int:
    """Load the model as a server would, then stop (Merlin's image build validates a model so)."""
    if settings.model_dir is not None:
        from modelserve.model.pyfunc import load_component

        load_component(settings.model_dir).close()
    else:
        from modelserve.model import load_model

        load_model(settings)
    logger.info("dry run: the model loads")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelserve", description="Serve a Python model over REST and gRPC.")
    parser.add_argument("--version", action="version", version=f"modelserve {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve a user's Python class", description="Serve a user's Python class in the Seldon protocol."
    )
    add_serve_arguments(serve)
    build = commands.add_parser("build", help="package a source folder (s2i layout) into a bundle or an image")
    build_commands.add_build_arguments(build)
    manifests = commands.add_parser("manifests", help="write Kubernetes manifests that run a built image")
    build_commands.add_manifests_arguments(manifests)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    command = parser.parse_known_args(argv)[0].command
    if command == "serve":
        return run_serve(parse_serve_arguments(parser, argv))
    args = parser.parse_args(argv)
    return build_commands.run_build(args) if command == "build" else build_commands.run_manifests(args)


def merlin_main(argv: Sequence[str] | None = None) -> int:
    """``merlin-pyfunc-server --model_dir DIR``: Merlin's PyFunc server command line."""
    parser = argparse.ArgumentParser(
        prog="merlin-pyfunc-server", description="Serve an MLflow pyfunc model (modelserve)."
    )
    add_serve_arguments(parser)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # the original ignores flags it does not know (e.g. --workers 1 in its benchmark)
        logger.warning("ignoring unknown arguments: %s", " ".join(unknown))
    if args.model_dir is None:
        parser.error("the following arguments are required: --model_dir")
    return run_serve(args)


def seldon_main(argv: Sequence[str] | None = None) -> int:
    """``seldon-core-microservice``: the original's command line."""
    parser = argparse.ArgumentParser(
        prog="seldon-core-microservice", description="Serve a user's Python class (modelserve)."
    )
    add_serve_arguments(parser)
    return run_serve(parse_serve_arguments(parser, argv))


if __name__ == "__main__":
    sys.exit(main())
