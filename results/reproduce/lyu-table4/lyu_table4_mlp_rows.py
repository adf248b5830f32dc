"""lyu-table4 restricted to the nets of lyu-table1 (the maxout and sigmoid MLPs): their rows of
the table, from the shared cache, while lyu-table2's conv nets are not trained yet."""
import dataclasses
import sys
from refimpl import reproduce as rp
from refimpl.reproduce import experiments as ex

full = ex.EXPERIMENTS["lyu-table4"]
partial = dataclasses.replace(
    full, runs=ex.LYU_MAXOUTS + ex.LYU_MLPS,
    notes=full.notes + " THIS RUN: the rows of lyu-table1's nets only; the conv maxout rows "
          "wait for lyu-table2's nets.")
ex.EXPERIMENTS["lyu-table4"] = partial
rp.EXPERIMENTS["lyu-table4"] = partial
rp.reproduce("lyu-table4", out=sys.argv[1], data_dir="/work/shared/data/mnist", threads=1)
