"""The ``manifold-probe`` command line.

::

    manifold-probe run [CONFIG] [--out DIR] [--workers N | --scheduler ADDRESS]
    manifold-probe report DIR
    manifold-probe capture CONFIG [--out DIR]
    manifold-probe datasets

``run`` without a config runs the embedded default (MiniLM on the shipped corpus, every
measure). Every task's result is written atomically as soon as it finishes, so Ctrl-C leaves
the finished results intact and rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional  # noqa: UP035 - typer reads Optional at runtime

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Geometry and topology of a network's activations, layer by layer.",
)


class _RichProgress:
    """A ProgressSink drawing one rich bar per stage."""

    def __init__(self, console, enabled: bool = True) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, disable=not enabled,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def begin(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, stage: str, n: int = 1) -> None:
        if n:
            self.progress.advance(self.tasks[stage], n)

    def end(self, stage: str) -> None:
        pass

    def message(self, text: str) -> None:
        self.console.print(text)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _load(config: Optional[Path]):  # noqa: UP045
    from manifold_probe.config import ConfigError, load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Argument(help="TOML config; default: the embedded one")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output directory")] = None,  # noqa: UP045
    workers: Annotated[Optional[int], typer.Option(help="run tasks on a dask LocalCluster with N worker processes")] = None,  # noqa: UP045
    scheduler: Annotated[Optional[str], typer.Option(help="address of a dask.distributed scheduler")] = None,  # noqa: UP045
    report: Annotated[bool, typer.Option(help="write figures and report.html")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    trust_code: Annotated[bool, typer.Option("--trust-code", help="allow a 'package.module:function' model spec to run (it is code)")] = False,
) -> None:
    """Capture activations and write the layer profile, perturbation table and report."""
    from rich.console import Console

    from manifold_probe._validation import InputError
    from manifold_probe.executor import make_executor
    from manifold_probe.experiment import run_experiment

    cfg = _load(config)
    if trust_code:
        cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"trust_code": True})})
    if workers is not None and scheduler is not None:
        _fail("give --workers or --scheduler, not both")
    workers = workers if workers is not None else cfg.executor.workers
    scheduler = scheduler if scheduler is not None else cfg.executor.scheduler
    console = Console(stderr=True)
    start = time.perf_counter()
    try:
        with make_executor(workers=workers, scheduler=scheduler) as executor, \
                _RichProgress(console, enabled=not quiet) as progress:
            result = run_experiment(cfg, out, executor=executor, progress=progress,
                                    make_report=report)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: finished results are kept; rerun to resume[/]")
        raise typer.Exit(130) from None
    except InputError as exc:
        _fail(str(exc))
    elapsed = time.perf_counter() - start
    console.print(
        f"done in {elapsed:.1f} s: {result['run']} tasks run, {result['skipped']} reused; "
        f"profile: {result['profile_csv']}"
        + (f"; report: {result['report']}" if "report" in result else "")
    )


@app.command()
def report(out: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """(Re)draw the figures and report.html of a finished run directory."""
    from manifold_probe.report import write_report

    if not (out / "profile.json").exists():
        _fail(f"{out} has no profile.json; run `manifold-probe run --out {out}` first")
    paths = write_report(out)
    typer.echo(paths["report"])


@app.command()
def capture(
    config: Annotated[Path, typer.Argument(help="TOML config")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o")] = None,  # noqa: UP045
) -> None:
    """Only capture (and save) the activations a config asks for."""
    from manifold_probe.experiment import (
        activations_complete,
        capture_hash,
        capture_to_folder,
        experiment_inputs,
        load_handle,
    )

    cfg = _load(config)
    folder = Path(out if out is not None else cfg.out) / "activations" / capture_hash(cfg)
    if activations_complete(folder):
        typer.echo(f"already captured: {folder}")
        return
    handle = load_handle(cfg)
    meta = capture_to_folder(cfg, handle, folder, experiment_inputs(cfg, handle))
    typer.echo(f"{folder}: {len(meta['layers'])} layers x {meta['n_points']} points")


@app.command()
def datasets() -> None:
    """List the ground-truth manifolds of manifold_probe.datasets."""
    from manifold_probe import datasets as ds

    if hasattr(ds, "available"):
        entries = dict(ds.available())
    else:  # pragma: no cover - older datasets module
        entries = {}
        for name in getattr(ds, "__all__", []):
            doc = (getattr(getattr(ds, name, None), "__doc__", None) or "").strip().splitlines()
            entries[name] = doc[0] if doc else ""
    width = max((len(n) for n in entries), default=0) + 2
    for name, text in entries.items():
        typer.echo(f"{name:<{width}}{text}")
    typer.echo(f"\n{len(entries)} data sets; generate one with mp.datasets.generate(name, n, ...)")


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    app(prog_name="manifold-probe")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
