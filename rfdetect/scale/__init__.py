"""Reprocess recording archives on a Dask cluster with output identical to a serial run."""
from .plan import ChunkTask, OpenSpec, plan_file
from .runner import add_arguments, run_archive, run_from_args

__all__ = ["ChunkTask", "OpenSpec", "plan_file", "add_arguments", "run_archive", "run_from_args"]
