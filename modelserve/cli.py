"""The command line: parse, build the settings, hand over to the server.

``modelserve serve INTERFACE_NAME [flags]``; ``seldon-core-microservice INTERFACE_NAME
[flags]`` is the same command under the original's name.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from modelserve import __version__, logs
from modelserve.build import commands as build_commands
from modelserve.errors import StartupError
from modelserve.settings import OPTIONS, Option, Settings, SettingsError, convert

logger = logging.getLogger("modelserve")


def _describe(option: Option) -> str:
    where = f" [env: {', '.join(option.env)}]" if option.env else ""
    default = "" if option.default in (None, [], "") else f" (default: {option.default})"
    return f"{option.help}{where}{default}"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "interface_name",
        nargs="?",
        help="the user's class: Module (class Module in Module.py) or package.module.Class [env: MODEL_NAME]",
    )
    for option in OPTIONS:
        if option.flag is None:
            continue
        if option.is_flag:
            parser.add_argument(
                option.flag,
                dest=option.name,
                nargs="?",
                const="true",
                default=None,
                metavar="BOOL",
                help=_describe(option),
            )
        else:
            parser.add_argument(
                option.flag, dest=option.name, default=None, metavar=option.metavar, help=_describe(option)
            )
    parser.add_argument("--persistence", nargs="?", const="1", default=None, help=argparse.SUPPRESS)
    env_only = "\n".join(f"  {', '.join(o.env)}: {_describe_env(o)}" for o in OPTIONS if o.flag is None)
    parser.epilog = "settings taken from the environment only:\n" + env_only
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _describe_env(option: Option) -> str:
    default = "" if option.default in (None, [], "") else f" (default: {option.default})"
    return f"{option.help}{default}"


def settings_from_args(args: argparse.Namespace) -> Settings:
    given: dict[str, Any] = {}
    for option in OPTIONS:
        if option.flag is None:
            continue
        text = getattr(args, option.name)
        if text is not None:
            given[option.name] = convert(option, text, source=option.flag)
    return Settings.load(args.interface_name, given)


def run_serve(args: argparse.Namespace) -> int:
    from modelserve.workers import run

    try:
        settings = settings_from_args(args)
    except SettingsError as error:
        print(f"modelserve: error: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.effective_log_level, settings.log_format)
    if args.persistence is not None:
        logger.warning("--persistence is deprecated and ignored")
    try:
        return run(settings)
    except StartupError as error:
        logger.error("cannot start: %s", error)
        return 1


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
    args = build_parser().parse_args(argv)
    handlers = {"serve": run_serve, "build": build_commands.run_build, "manifests": build_commands.run_manifests}
    return handlers[args.command](args)


def seldon_main(argv: Sequence[str] | None = None) -> int:
    """``seldon-core-microservice``: the original's command line."""
    parser = argparse.ArgumentParser(
        prog="seldon-core-microservice", description="Serve a user's Python class (modelserve)."
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
