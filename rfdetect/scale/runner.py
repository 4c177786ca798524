"""Run an archive on Dask: a local cluster of N processes, or an existing scheduler.

Results stream back as tasks finish (``as_completed``); each file's records
are emitted as soon as they are final (merge.py), one progress bar counts the
whole archive's samples, and each file ends with its summary.  A file that
fails (unreadable, corrupt) is reported with its error and the others go on.
A worker lost mid-run has its tasks re-run by Dask; a task's result is merged
once, whichever run delivered it.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from typing import Callable, Sequence

from ..detect import DetectorConfig
from ..errors import ParameterError, RFDetectError
from ..sources.base import DEFAULT_BLOCK_SAMPLES
from .merge import FileMerger
from .plan import DEFAULT_CHUNK_S, ChunkTask, OpenSpec, plan_file
from .worker import RecordOptions, open_spec, recording_info, run_chunk

Emit = Callable[[dict], None]
CONNECT_TIMEOUT_S = 30


def _client(workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:   # pragma: no cover - dask is an optional extra
        raise ParameterError("needs Dask: pip install 'rfdetect[dask]'",
                             param="--scheduler" if scheduler else "--workers",
                             value=scheduler or workers) from None
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(f"cannot reach the Dask scheduler ({exc})", param="--scheduler",
                                 value=scheduler) from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError("must be a whole number >= 1", param="--workers", value=workers)
    # One single-threaded process per core: the detector holds the GIL between kernels.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    return Client(cluster, timeout=CONNECT_TIMEOUT_S), cluster


def _failed_summary(path: str, error: str) -> dict:
    return {"type": "summary", "schema": 1, "source": path, "error": error}


def run_archive(paths: Sequence[str], *, workers: int | None = None, scheduler: str | None = None,
                config: DetectorConfig | None = None, all_bursts: bool = False, emit: Emit,
                progress: bool | None = None, format: str = "auto", sample_rate_hz: float | None = None,
                center_freq_hz: float | None = None, chunk_s: float = DEFAULT_CHUNK_S,
                block_samples: int = DEFAULT_BLOCK_SAMPLES,
                on_error: Callable[[str, str], None] | None = None,
                on_summary: Callable[[dict], None] | None = None, array_path: str | None = None,
                client=None) -> list[dict]:
    """Per-file summaries, in the order of ``paths`` (a failed file's has an ``error``).

    ``progress``: True/False, or None to show the bar only on a terminal.
    ``client``: an existing ``distributed.Client`` to use instead of ``workers``/``scheduler``.
    """
    config = config or DetectorConfig()
    summaries: list[dict | None] = [None] * len(paths)

    def fail(i: int, path: str, error: str) -> None:
        summaries[i] = _failed_summary(path, error)
        if on_error:
            on_error(path, error)

    # Plan on the client: it sees what the workers see, and only metadata is read.
    mergers: dict[int, FileMerger] = {}
    tasks: list[ChunkTask] = []
    for i, path in enumerate(paths):
        spec = OpenSpec(str(path), format, sample_rate_hz, center_freq_hz)
        try:
            with open_spec(spec) as src:
                info = recording_info(spec, src)
            file_tasks = plan_file(spec, info, i, config, chunk_s=chunk_s, block_samples=block_samples)
        except RFDetectError as exc:
            fail(i, str(path), str(exc))
            continue
        except OSError as exc:
            fail(i, str(path), f"{path}: {exc.strerror or exc}")
            continue
        mergers[i] = FileMerger(info, emit, len(file_tasks), [t.first_block for t in file_tasks],
                                config=config, all_bursts=all_bursts, array_path=array_path,
                                open_reader=lambda s=spec: open_spec(s))
        tasks.extend(file_tasks)

    if tasks:
        own, cluster = (client, None) if client is not None else _client(workers, scheduler)
        try:
            # A file that is one task gets its records made on the worker; with an array
            # file, which the workers may not see, the client makes them.
            records = RecordOptions(all_bursts=all_bursts) if array_path is None else None
            _run(own, tasks, mergers, config, records, summaries, fail, on_summary, progress, paths)
        finally:
            if client is None:
                own.close()
                if cluster is not None:
                    cluster.close()
    return [s for s in summaries if s is not None]


def _run(client, tasks, mergers, config, records, summaries, fail, on_summary, progress, paths) -> None:
    from dask.distributed import as_completed
    from tqdm import tqdm
    run_id = uuid.uuid4().hex[:8]
    futures = {}
    for t in tasks:
        f = client.submit(run_chunk, t, config, records, key=f"{t.key}-{run_id}", pure=False)
        futures[f] = t
    total = sum(t.stop - t.start for t in tasks)
    by_file: dict[int, list] = {}
    for f, t in futures.items():
        by_file.setdefault(t.file_index, []).append(f)
    with tqdm(total=total, unit="S", unit_scale=True, desc="archive", file=sys.stderr,
              disable=None if progress is None else not progress, dynamic_ncols=True) as bar:
        for f in as_completed(list(futures)):
            t = futures[f]
            merger = mergers[t.file_index]
            if merger.done:
                continue
            if f.status == "error":
                exc = f.exception()
                error = str(exc) or type(exc).__name__
                for other in by_file[t.file_index]:
                    if other is not f:
                        other.cancel()
                summary = merger.finish(error=error)
                fail(t.file_index, str(paths[t.file_index]), error)
                summaries[t.file_index] = summary
                bar.update(sum(x.stop - x.start for x in tasks if x.file_index == t.file_index
                               and x.index >= merger.merged_chunks))
                continue
            if f.status != "finished":      # cancelled
                continue
            merger.add(f.result())
            f.release()
            bar.update(t.stop - t.start)
            if merger.complete:
                summaries[t.file_index] = merger.finish()
                if on_summary:
                    on_summary(summaries[t.file_index])


# ------------------------------------------------------------------ command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cluster (Dask)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="run on a local Dask cluster of N processes (default: this process alone)")
    g.add_argument("--scheduler", metavar="URL",
                   help="run on an existing Dask cluster, e.g. tcp://host:8786; recordings must be "
                   "at a path every worker sees, or an fsspec URL (s3://..., gcs://...)")
    g.add_argument("--chunk-s", type=float, default=DEFAULT_CHUNK_S, metavar="SECONDS",
                   help=f"split recordings longer than this into tasks (default {DEFAULT_CHUNK_S:g} s)")


def format_summary(s: dict) -> str:
    links = ", ".join(f"{k} x{v}" for k, v in s["links"].items()) or "none"
    return (f"{s['source']}: {s['signal_s']:.3f} s of signal in {s['wall_s']:.2f} s; "
            f"{s['bursts']} bursts, {s['detections']} detections ({s['drone_detections']} drone): {links}"
            + (f"; {s['gaps']} gaps, {s['samples_lost']} samples lost" if s["gaps"] else ""))


def run_from_args(args: argparse.Namespace, paths: Sequence[str], config: DetectorConfig,
                  writer: Emit) -> int:
    """The ``analyze`` command with --workers or --scheduler: 0, or 2 when a file failed."""
    from ..cli.common import rate_and_freq
    rate, freq = rate_and_freq(args)
    failures = []
    quiet = getattr(args, "quiet", False)
    chunk_s = getattr(args, "chunk_s", None) or DEFAULT_CHUNK_S
    if not chunk_s > 0:
        raise ParameterError("must be greater than zero", param="--chunk-s", value=chunk_s)

    def on_error(path: str, error: str) -> None:
        failures.append(path)
        print(f"rfdetect analyze: error: {error}", file=sys.stderr)

    def on_summary(s: dict) -> None:
        if not quiet:
            print(format_summary(s), file=sys.stderr)

    progress = {"on": True, "off": False}.get(getattr(args, "progress", "auto"))
    run_archive(list(paths), workers=args.workers, scheduler=args.scheduler, config=config,
                all_bursts=getattr(args, "all_bursts", False), emit=writer, progress=progress,
                format=getattr(args, "format", "auto") or "auto", sample_rate_hz=rate, center_freq_hz=freq,
                chunk_s=chunk_s, on_error=on_error, on_summary=on_summary,
                array_path=getattr(args, "array", None))
    return 2 if failures else 0
