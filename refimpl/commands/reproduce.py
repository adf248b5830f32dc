"""``refimpl reproduce NAME``: the command body (see :mod:`refimpl.reproduce`)."""

from __future__ import annotations

from refimpl.backend import namespace_by_name
from refimpl.reproduce import describe
from refimpl.reproduce import reproduce as run_experiment

__all__ = ["reproduce"]


def reproduce(args) -> int:
    """Run the experiment with the command-line settings; the table is printed at the end."""
    if getattr(args, "settings", False):
        print(describe(args.name, epochs=args.epochs))
        return 0
    xp = namespace_by_name(args.backend)
    run_experiment(args.name, out=args.out, epochs=args.epochs, subset=args.subset,
                   test_subset=args.test_subset, seeds=args.seeds, data_dir=args.data_dir,
                   download=args.download, xp=xp, dtype=getattr(xp, args.dtype),
                   quiet=args.quiet, jobs=args.jobs, scheduler=args.scheduler,
                   threads=args.threads)
    return 0
