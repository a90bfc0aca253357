"""The ``kie`` command: list providers, run a model (on KIE or the embedded mock), serve the mock.

Results go to standard output (one file path a line, so the command composes in shell pipelines);
progress and errors go to standard error. Errors are one line, never a traceback, and always
name the task id once a task exists, so a paid task is never lost with the error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit._version import __version__
from kiekit.errors import ConfigurationError, KieError, ValidationError

if TYPE_CHECKING:
    from kiekit.models import TaskStatus

DEMO_KEY = "kiekit-demo-key"  # the mock accepts any key; this one is never a real credential
DEMO_SECONDS = 3.0  # how long a task takes on the embedded mock: long enough to show progress


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.options = extra
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except KieError as exc:
        print(f"kie: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kie: interrupted", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kie", description="kiekit: the KIE AI API from Python.")
    parser.add_argument("--version", action="version", version=f"kiekit {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    providers = commands.add_parser("providers", help="list installed providers and their models")
    providers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    providers.add_argument(
        "--check", action="store_true", help="also import each plugin and report broken ones"
    )
    providers.set_defaults(handler=_providers)

    run = commands.add_parser("run", help="create a task, wait for it, download its files")
    run.add_argument("model", help="a model id, e.g. flux-kontext-pro (see `kie providers`)")
    run.add_argument("--prompt", help="the prompt")
    run.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another input field (repeatable), e.g. --input aspect_ratio=16:9",
    )
    run.add_argument("--out", default="kie-output", type=Path, help="folder for the result files")
    run.add_argument("--mock", action="store_true", help="run against the embedded mock KIE server")
    run.add_argument(
        "--mock-seconds",
        type=float,
        default=None,
        metavar="S",
        help=f"how long a task takes on the embedded mock (default {DEMO_SECONDS:g})",
    )
    run.add_argument("--timeout", type=float, default=None, help="seconds to wait for the task")
    run.add_argument("--callback-url", default=None, help="callBackUrl for KIE to notify")
    run.add_argument("--base-url", default=None, help="KIE API base URL (default: api.kie.ai)")
    run.set_defaults(handler=_run)

    mock = commands.add_parser("mock", help="the mock KIE server")
    mock_commands = mock.add_subparsers(metavar="ACTION")
    serve = mock_commands.add_parser(
        "serve",
        help="serve the mock KIE API on 127.0.0.1 (options: python -m kiekit_mock --help)",
        add_help=False,
    )
    serve.set_defaults(handler=_mock_serve, passthrough=True)  # the rest goes to the mock

    plugin = commands.add_parser("plugin", help="write a kiekit plugin of your own")
    plugin_commands = plugin.add_subparsers(metavar="ACTION")
    new = plugin_commands.add_parser(
        "new", help="make a plugin package for KIE market models: provider, tests, README"
    )
    new.add_argument("name", metavar="NAME", help="e.g. acme-banana: distribution kiekit-NAME")
    new.add_argument(
        "--model",
        dest="models",
        action="extend",
        nargs="+",
        default=[],
        metavar="MODEL_ID",
        help="a KIE model id the plugin serves (repeatable; default: NAME)",
    )
    new.add_argument(
        "--output",
        choices=("image", "video", "audio", "text"),
        default="image",
        help="what the models produce (default: image)",
    )
    new.add_argument("--dir", type=Path, default=Path(), help="where to make the NAME folder")
    new.set_defaults(handler=_plugin_new)
    return parser


# -- kie providers -----------------------------------------------------------------------------


def _providers(args: argparse.Namespace) -> int:
    from kiekit.discovery import installed  # metadata only: no plugin module is imported

    quarantined: dict[str, str] = {}
    if args.check:  # import every plugin, to find the ones that break on loading
        import warnings

        from kiekit.registry import PluginWarning, Registry

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)  # reported below, not twice
            quarantined = Registry().load_all()
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    tags: dict[str, tuple[str | None, tuple[str, ...]]] = {}  # the capability manifest
    for item in installed():
        tags[item.model] = (item.output, item.capabilities)
        status = "ok"
        if item.blocked:
            status = "blocked (KIEKIT_BLOCK_PLUGINS / KIEKIT_ALLOW_PLUGINS)"
        elif item.incompatible:
            status = f"incompatible: {item.incompatible}"
        elif item.distribution in quarantined:
            status = f"quarantined: {quarantined[item.distribution]}"
        key = (item.distribution, item.version, item.module, status)
        groups.setdefault(key, []).append(item.model)
    if args.json:
        rows = [
            {
                "distribution": dist,
                "version": version,
                "module": module,
                "models": models,
                "manifest": {
                    model: {"output": tags[model][0], "capabilities": list(tags[model][1])}
                    for model in models
                },
                "status": status,
            }
            for (dist, version, module, status), models in groups.items()
        ]
        print(json.dumps({"providers": rows}, indent=2))
        return 0
    if not groups:
        print("no providers installed (try: pip install kiekit-flux-kontext)")
        return 0
    for (dist, version, module, status), models in groups.items():
        note = "" if status == "ok" else f"  [{status}]"
        print(f"{dist} {version}  ({module}){note}")
        for model in models:
            pattern = "  (pattern: model ids no other plugin serves)" if "*" in model else ""
            output, capabilities = tags[model]
            shown = ", ".join([output or "?", *capabilities])
            print(f"  {model}  [{shown}]{pattern}")
    return 0


# -- kie run -----------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from kiekit.client import DEFAULT_BASE_URL, Client
    from kiekit.registry import default_registry

    provider = default_registry().provider(args.model)
    values = _input_values(args.input)
    prompt = {} if args.prompt is None else {"prompt": args.prompt}  # text, never read as JSON
    params = provider.make_input(args.model, values, from_text=True, **prompt)  # before any I/O

    with contextlib.ExitStack() as stack:
        if args.mock:
            seconds = DEMO_SECONDS if args.mock_seconds is None else args.mock_seconds
            mock = stack.enter_context(_embedded_mock(seconds))
            key, base_url = DEMO_KEY, mock.base_url
        else:
            key = os.environ.get("KIE_API_KEY", "")
            if not key.strip():
                raise ConfigurationError("KIE_API_KEY is not set (or use --mock to try the mock)")
            base_url = args.base_url or DEFAULT_BASE_URL
        client = stack.enter_context(Client(key, base_url=base_url))
        task = client.submit(args.model, params, callback_url=args.callback_url)
        _say(f"created task {task.id} ({args.model})")
        try:
            with _progress() as show:
                results = client.wait(task, timeout=args.timeout, on_status=show)
            paths = client.download(results, args.out)
        except KeyboardInterrupt:
            _say(f"stopped waiting; task {task.id} goes on at KIE")
            raise
    for path in paths:
        print(path)
    if results.value is not None:  # a model whose output is not a file: print what KIE returned
        print(json.dumps(results.value, ensure_ascii=False))
    return 0


def _input_values(pairs: list[str]) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs, as strings; the provider reads them by the field's type."""
    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(pair, "expected KEY=VALUE")
        raw[key.strip()] = value
    return raw


@contextlib.contextmanager
def _embedded_mock(seconds: float) -> Iterator[Any]:
    try:
        from kiekit_mock import MockConfig, MockServer
    except ImportError as exc:
        raise ConfigurationError(
            "the mock server is not installed: pip install 'kiekit[mock]'"
        ) from exc
    with MockServer(MockConfig(seconds_to_complete=seconds)) as mock:
        _say(f"mock KIE server on {mock.base_url}")
        yield mock


@contextlib.contextmanager
def _progress() -> Iterator[Any]:
    """A live line on standard error: the task's state, and a bar where KIE reports progress."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        line = bar.add_task("waiting", total=None)

        def show(status: TaskStatus) -> None:
            total = 1.0 if status.progress is not None else None
            bar.update(
                line, description=status.state.value, completed=status.progress or 0, total=total
            )

        yield show


def _say(message: str) -> None:
    print(message, file=sys.stderr)


# -- kie mock serve ----------------------------------------------------------------------------


def _mock_serve(args: argparse.Namespace) -> int:
    """The mock's own command line, so its options are declared in one place."""
    try:
        from kiekit_mock.__main__ import main as mock_main
    except ImportError as exc:
        raise ConfigurationError(
            "the mock server is not installed: pip install 'kiekit[mock]'"
        ) from exc
    return mock_main(args.options)


# -- kie plugin new ----------------------------------------------------------------------------


def _plugin_new(args: argparse.Namespace) -> int:
    from kiekit.scaffold import new_plugin  # the templates load only for this command

    try:
        folder = new_plugin(args.name, args.models, args.output, args.dir)
    except FileExistsError:
        raise ConfigurationError(
            f"{args.dir / args.name} already exists; kie plugin new never overwrites a folder"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write {args.dir / args.name}: {exc}") from exc
    print(folder)
    _say(f"made kiekit-{args.name}; next: cd {folder} && uv run pytest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
