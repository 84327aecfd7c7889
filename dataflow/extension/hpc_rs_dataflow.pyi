"""The dataflow engine's group-by from Python: CSV files in, the answer as Arrow, on every
core with the GIL released, within a memory budget."""

import os
from typing import Any, Literal, Mapping, Sequence, Union

_Path = Union[str, "os.PathLike[str]"]
_Func = Literal["count", "sum", "mean", "min", "max", "var", "std", "median"]
_Agg = Union[Mapping[str, Union[_Func, Sequence[_Func]]], Literal["size"]]

class Answer:
    """The answer of a group-by: an Arrow table in key order (in any order with sort=False).
    Take it with pyarrow.table(answer), polars.DataFrame(answer), or any library that reads the
    Arrow PyCapsule interface; len(answer) is its number of groups."""

    @property
    def columns(self) -> list[str]:
        """The column names: the keys, then each aggregate (COLUMN_FUNC, size)."""
    def __len__(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The answer as an Arrow C stream of record batches, one a piece of the merge, in key
        order (a PyCapsule)."""
    def __arrow_c_schema__(self) -> Any:
        """The answer's schema as an Arrow C schema (a PyCapsule)."""

# pandas', Polars' and DuckDB's orders: the sources are beside JobBuilder::sort
# (dataflow/engine/src/job.rs).
def groupby(
    files: Union[_Path, Sequence[_Path]],
    by: Union[str, Sequence[str]],
    agg: Union[_Agg, Sequence[_Agg]],
    *,
    workers: int | None = None,
    memory_limit: int | str | None = None,
    sep: str = ",",
    blocksize: int | str | None = None,
    spill_dir: _Path | None = None,
    sort: bool = True,
) -> Answer:
    """pandas' read_csv(files).groupby(by).agg(agg) without holding the files in memory: read
    in blocks on `workers` threads (every core by default), groups exchanged by key hash and
    spilled to disk past `memory_limit`. Key columns come back as strings, in key order (in
    any order with sort=False, as pandas' groupby(sort=False): no sort, no merge), then
    one column an aggregate (COLUMN_FUNC, size): the columns `dataflow groupby` prints. The
    GIL is released; Ctrl-C raises KeyboardInterrupt and removes the spill files."""
