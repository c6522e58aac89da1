"""The ``skadv`` command line: ``skadv plugins`` and ``skadv demo``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings
from collections.abc import Sequence

from skadv import __version__
from skadv.exceptions import PluginWarning
from skadv.formatting import format_table
from skadv.plugins import get_registry

# modules the demo imports beyond the base install, and the distributions that hold them
DEMO_EXTRA = {"matplotlib": "matplotlib", "art": "adversarial-robustness-toolbox"}


def plugins_command(args: argparse.Namespace) -> int:
    """Print every registered component with its plugin, and any plugin problems."""
    with warnings.catch_warnings():  # the problems are listed below instead
        warnings.simplefilter("ignore", PluginWarning)
        registry = get_registry()
    rows = []
    for kind, components in registry.components.items():
        for name in sorted(components):
            plugin = components[name].plugin
            rows.append((name, kind, plugin.name, plugin.distribution, plugin.version))
    print(format_table(("NAME", "KIND", "PLUGIN", "DISTRIBUTION", "VERSION"), rows))
    if registry.problems:
        print("\nProblems:")
        for problem in registry.problems:
            print(f"  {problem.plugin} ({problem.distribution}): {problem.message}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo on scikit-learn's bundled data and write the report."""
    missing = [
        distribution
        for module, distribution in DEMO_EXTRA.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        print(
            f"skadv demo: error: it needs {', '.join(missing)}, which the base install leaves "
            "out; install them with: pip install 'skadv[demo]'",
            file=sys.stderr,
        )
        return 2
    from skadv.demo import prepare_output, run_demo
    from skadv.validation import check_device

    try:  # bad arguments: one line and exit status 2 before any training, no traceback
        check_device(args.device, "--device")
        if args.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {args.threads}.")
        prepare_output(args.out, args.force)
    except ValueError as exc:
        print(f"skadv demo: error: {exc}", file=sys.stderr)
        return 2
    run_demo(
        out=args.out,
        device=args.device,
        quick=args.quick,
        seed=args.seed,
        force=args.force,
        threads=args.threads,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skadv`` command."""
    parser = argparse.ArgumentParser(
        prog="skadv", description="Adversarial robustness and GAN augmentation for scikit-learn."
    )
    parser.add_argument("--version", action="version", version=f"skadv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    plugins = commands.add_parser("plugins", help="list installed attacks, GANs and objectives")
    plugins.set_defaults(func=plugins_command)
    demo = commands.add_parser("demo", help="run the demo on bundled data and write a report")
    demo.add_argument("--out", default="skadv-demo", help="output folder (default: skadv-demo)")
    demo.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device")
    demo.add_argument("--quick", action="store_true", help="smaller models, fewer epochs")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--force", action="store_true", help="write into a non-empty --out folder")
    demo.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch, BLAS and OpenMP (default: 1, steady on a busy machine)",
    )
    demo.set_defaults(func=demo_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``skadv`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
