//! `hpc_rs_dataflow`: the `dataflow` lesson's group-by engine as a Python module - pandas'
//! `df.groupby(by).agg(...)` over CSV files of any size, on every core, within a memory
//! budget, the answer handed over as Arrow.
//!
//! `pip install ./dataflow/extension`, then:
//!
//! ```python
//! import hpc_rs_dataflow as hd, pyarrow as pa
//! answer = hd.groupby("flights/*.csv", by="origin", agg={"dep_delay": ["mean", "std"]})
//! table = pa.table(answer)          # or polars.DataFrame(answer), duckdb.sql("from answer")
//! ```
//!
//! The function turns Python's arguments into a `dataflow_engine::Job` (refusing what it
//! cannot take with an exception that names the argument), runs it on a thread of its own with
//! the GIL released, and hands the answer's columns to Arrow arrays without copying the
//! numbers or the key bytes. The answer object carries them through the Arrow PyCapsule
//! interface (`__arrow_c_stream__`): pyarrow, Polars, DuckDB and pandas take it as a table,
//! zero-copy. pandas' own group-by holds the whole frame in memory; this reads the files a
//! block at a time and spills groups past `memory_limit` to disk, as Dask does.

use pyo3::prelude::*;

/// The dataflow engine's group-by from Python: CSV files in, the answer as Arrow, on every
/// core with the GIL released, within a memory budget.
// `gil_used = false`: the module keeps no state a thread could race on (each call runs a job
// of its own), so a free-threaded Python (3.13t, 3.14t) keeps its GIL off when importing it.
#[pymodule(gil_used = false)]
mod hpc_rs_dataflow {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    use arrow_array::ffi::FFI_ArrowSchema;
    use arrow_array::ffi_stream::FFI_ArrowArrayStream;
    use arrow_array::{
        ArrayRef, BinaryArray, Float64Array, Int64Array, LargeBinaryArray, LargeStringArray,
        RecordBatch, RecordBatchIterator, StringArray,
    };
    use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
    use arrow_schema::{ArrowError, Field, Schema};
    use dataflow_engine::output::{Columns, Numbers, Strings};
    use dataflow_engine::{Error, Job, Query};
    use pyo3::exceptions::{
        PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
    };
    use pyo3::prelude::*;
    use pyo3::types::{PyBool, PyCapsule, PyDict, PyList, PyString, PyTuple};

    /// How often the waiting call looks for a Ctrl-C (Python's signal handlers run only in
    /// the main thread, between bytecodes: a call into Rust must ask for them).
    const SIGNAL_CHECK: Duration = Duration::from_millis(50);

    /// groupby(files, by, agg, *, workers=None, memory_limit=None, sep=",", blocksize=None,
    /// spill_dir=None, sort=True)
    ///
    /// pandas' ``read_csv(files).groupby(by).agg(agg)`` without holding the files in memory:
    /// the files (a path, a glob pattern such as ``"data/*.csv"``, or a list of them) are read
    /// in blocks by ``workers`` threads [default: every core], each row's group found in a
    /// hash table, the groups exchanged by key hash between the workers and spilled to
    /// ``spill_dir`` past ``memory_limit`` bytes (an int, or a text such as ``"2GB"``)
    /// [default: half the memory available].
    ///
    /// ``by`` is a column name or a list of them. ``agg`` is as pandas' ``.agg`` takes a dict -
    /// ``{"v1": "sum", "v3": ["mean", "std"]}``, with count, sum, mean, min, max, var, std
    /// and median - or ``"size"`` (each group's rows), or a list of such dicts and
    /// ``"size"``, in the order the columns come out.
    ///
    /// Returns the answer in key order - or, with ``sort=False`` (pandas' ``groupby(sort=False)``,
    /// and what Polars' ``group_by`` and DuckDB's ``GROUP BY`` give unless asked), in any
    /// order, which may differ from run to run and saves the sort and the merge: key columns
    /// as strings, as the files hold them (a missing key is the empty string; rows with none
    /// are left out, as pandas' ``dropna``), then one column an aggregate, named ``COLUMN_FUNC`` (``size``); the same columns,
    /// names and values as ``dataflow groupby`` prints. It is an Arrow stream
    /// (``__arrow_c_stream__``): ``pyarrow.table(answer)``, ``polars.DataFrame(answer)`` and
    /// DuckDB take it without a copy.
    ///
    /// The GIL is released while it runs; Ctrl-C raises KeyboardInterrupt within a second and
    /// removes the run's spill files. FileNotFoundError where no file matches; ValueError for
    /// a column the files lack, an unknown aggregate, a bad size, or a row that is not CSV;
    /// TypeError for an argument of the wrong type.
    // The sources for pandas', Polars' and DuckDB's orders are beside `JobBuilder::sort`.
    #[pyfunction]
    #[pyo3(signature = (files, by, agg, *, workers=None, memory_limit=None, sep=",", blocksize=None, spill_dir=None, sort=None))]
    #[allow(clippy::too_many_arguments)] // pandas' keyword arguments, as Python passes them
    fn groupby(
        py: Python<'_>,
        files: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
        agg: &Bound<'_, PyAny>,
        workers: Option<&Bound<'_, PyAny>>,
        memory_limit: Option<&Bound<'_, PyAny>>,
        sep: &str,
        blocksize: Option<&Bound<'_, PyAny>>,
        spill_dir: Option<&Bound<'_, PyAny>>,
        sort: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Answer> {
        let patterns = paths("files", files)?;
        let query = Query::parse(&key_columns(by)?, &aggregates(agg)?, None).map_err(to_python)?;
        let mut builder = Job::builder(query, &patterns).sep(separator(sep)?);
        if let Some(sort) = sort {
            builder = builder.sort(boolean("sort", sort)?);
        }
        if let Some(workers) = workers {
            builder = builder.threads(at_least_one("workers", workers)?);
        }
        if let Some(limit) = memory_limit {
            builder = builder.memory_limit(Some(size("memory_limit", limit)?));
        }
        if let Some(bytes) = blocksize {
            builder = builder.blocksize(size("blocksize", bytes)?);
        }
        if let Some(dir) = spill_dir {
            builder = builder.spill_dir(Some(paths("spill_dir", dir)?.remove(0).into()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        // Planning reads each file's header and cuts the files into ranges: file work, so
        // without the GIL too.
        let job = py.detach(|| builder.stop_when(Arc::clone(&stop)).build()).map_err(to_python)?;
        let columns = run_interruptibly(py, Arc::new(job), &stop)?;
        Answer::of(columns)
            .map_err(|e| PyRuntimeError::new_err(format!("the answer as Arrow: {e}")))
    }

    /// The job on a thread of its own while this one waits without the GIL, looking for
    /// Ctrl-C: on one, the job is told to stop, waited for (its spill folder is removed as it
    /// returns), and KeyboardInterrupt raised.
    fn run_interruptibly(
        py: Python<'_>,
        job: Arc<Job>,
        stop: &AtomicBool,
    ) -> PyResult<Vec<Columns>> {
        let (done, result) = mpsc::channel();
        // Waited on without the GIL, from this thread only: a Mutex makes it shareable.
        let result = std::sync::Mutex::new(result);
        let running = Arc::clone(&job);
        std::thread::Builder::new()
            .name("hpc_rs_dataflow".into())
            .spawn(move || {
                let answer = dataflow_engine::run(&running);
                let columns = answer.and_then(|a| {
                    a.columns(&running.query).map_err(|e| Error::Disk(e.to_string()))
                });
                let _ = done.send(columns);
            })
            .map_err(|e| PyOSError::new_err(format!("groupby cannot start a thread: {e}")))?;
        loop {
            let waited = py.detach(|| {
                result
                    .lock()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected)?
                    .recv_timeout(SIGNAL_CHECK)
            });
            match waited {
                Ok(columns) => return columns.map_err(to_python),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err("groupby's thread ended with no answer"));
                }
            }
            if let Err(interrupt) = py.check_signals() {
                stop.store(true, Ordering::Relaxed);
                py.detach(|| {
                    if let Ok(result) = result.lock() {
                        let _ = result.recv();
                    }
                });
                return Err(interrupt);
            }
        }
    }

    /// The answer of a group-by: an Arrow table, in key order (in any order with
    /// ``sort=False``). Take it with
    /// ``pyarrow.table(answer)``, ``polars.DataFrame(answer)``, or any library that reads the
    /// Arrow PyCapsule interface; ``len(answer)`` is its number of groups.
    #[pyclass(frozen, module = "hpc_rs_dataflow")]
    struct Answer {
        schema: Arc<Schema>,
        /// The answer's pieces, in order, as they were built (one array a column would copy
        /// them all, on one thread).
        batches: Vec<RecordBatch>,
    }

    #[pymethods]
    impl Answer {
        /// The answer as an Arrow C stream of record batches, in a PyCapsule named
        /// "arrow_array_stream" (the Arrow PyCapsule interface). A requested schema is not
        /// cast to: the columns come as they are, which the interface allows.
        #[pyo3(signature = (requested_schema=None))]
        fn __arrow_c_stream__<'py>(
            &self,
            py: Python<'py>,
            requested_schema: Option<&Bound<'py, PyAny>>,
        ) -> PyResult<Bound<'py, PyCapsule>> {
            let _ = requested_schema;
            // A batch's clone shares its buffers: the stream hands out the same memory.
            let batches: Vec<_> = self.batches.iter().cloned().map(Ok).collect();
            let batches = RecordBatchIterator::new(batches, Arc::clone(&self.schema));
            let stream = FFI_ArrowArrayStream::new(Box::new(batches));
            PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
        }

        /// The answer's schema as an Arrow C schema, in a PyCapsule named "arrow_schema".
        fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
            let schema = FFI_ArrowSchema::try_from(self.schema.as_ref())
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            PyCapsule::new_with_value(py, schema, c"arrow_schema")
        }

        fn __len__(&self) -> usize {
            self.batches.iter().map(RecordBatch::num_rows).sum()
        }

        /// The column names: the keys, then each aggregate (``COLUMN_FUNC``, ``size``).
        #[getter]
        fn columns(&self) -> Vec<String> {
            self.schema.fields().iter().map(|f| f.name().clone()).collect()
        }

        fn __repr__(&self) -> String {
            format!(
                "<hpc_rs_dataflow.Answer: {} groups, columns {:?}; pyarrow.table(answer) or polars.DataFrame(answer) to read it>",
                self.__len__(),
                self.columns()
            )
        }
    }

    impl Answer {
        /// The engine's pieces of columns as Arrow record batches: the numbers and key bytes
        /// moved, not copied (the offsets and the validity bits are made anew). The batches
        /// of a stream share one schema, so each key column's type is chosen from all the
        /// pieces: strings where every piece is UTF-8, 64-bit offsets where a piece needs
        /// them; an aggregate may be null where any piece has a group with no value.
        fn of(pieces: Vec<Columns>) -> Result<Answer, ArrowError> {
            let first = pieces.first().expect("the engine gives at least one piece");
            let names = first.names.clone();
            let kinds: Vec<KeyKind> = (0..first.keys.len())
                .map(|k| KeyKind::of(pieces.iter().map(|p| &p.keys[k])))
                .collect();
            let mut columns: Vec<Vec<ArrayRef>> = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let mut arrays: Vec<ArrayRef> = Vec::new();
                for (keys, kind) in piece.keys.into_iter().zip(&kinds) {
                    arrays.push(strings(keys, *kind)?);
                }
                arrays.extend(piece.numbers.into_iter().map(numbers_array));
                columns.push(arrays);
            }
            // Each column's type is its first piece's; a key is never null, an aggregate may
            // be where some piece's has a null.
            let fields: Vec<Field> = (names.iter().enumerate())
                .map(|(c, name)| {
                    let nullable =
                        c >= kinds.len() && columns.iter().any(|a| a[c].null_count() > 0);
                    Field::new(name, columns[0][c].data_type().clone(), nullable)
                })
                .collect();
            let schema = Arc::new(Schema::new(fields));
            let batches = (columns.into_iter())
                .map(|arrays| RecordBatch::try_new(Arc::clone(&schema), arrays))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Answer { schema, batches })
        }
    }

    /// How a key column travels: as strings or bytes, with 32- or 64-bit offsets.
    #[derive(Clone, Copy)]
    struct KeyKind {
        utf8: bool,
        large: bool,
    }

    impl KeyKind {
        fn of<'p>(pieces: impl Iterator<Item = &'p Strings> + Clone) -> KeyKind {
            KeyKind {
                utf8: pieces.clone().all(|k| std::str::from_utf8(&k.bytes).is_ok()),
                large: pieces.into_iter().any(|k| i32::try_from(k.bytes.len()).is_err()),
            }
        }
    }

    /// A key column as Arrow strings - or as binary, where any piece's bytes are not UTF-8 -
    /// with 32-bit offsets, or 64-bit (large_string) where some piece passes 2 GiB.
    fn strings(keys: Strings, kind: KeyKind) -> Result<ArrayRef, ArrowError> {
        let starts = std::iter::once(0).chain(keys.ends.iter().copied());
        let bytes = Buffer::from_vec(keys.bytes);
        if !kind.large {
            let offsets: Vec<i32> =
                starts.map(|end| i32::try_from(end).expect("below the last")).collect();
            let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
            return Ok(if kind.utf8 {
                Arc::new(StringArray::try_new(offsets, bytes, None)?)
            } else {
                Arc::new(BinaryArray::try_new(offsets, bytes, None)?)
            });
        }
        let offsets: Vec<i64> =
            starts.map(|end| i64::try_from(end).expect("fewer bytes than memory")).collect();
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        Ok(if kind.utf8 {
            Arc::new(LargeStringArray::try_new(offsets, bytes, None)?)
        } else {
            Arc::new(LargeBinaryArray::try_new(offsets, bytes, None)?)
        })
    }

    /// Counts as int64 (pandas' type for `size` and `count`), other aggregates as float64
    /// with a null where a group has no value (a mean of no values: NaN in pandas).
    fn numbers_array(numbers: Numbers) -> ArrayRef {
        match numbers {
            Numbers::Counts(counts) => Arc::new(Int64Array::from(
                counts
                    .into_iter()
                    .map(|c| i64::try_from(c).expect("fewer rows than 2^63"))
                    .collect::<Vec<i64>>(),
            )),
            Numbers::Floats { values, valid } => {
                let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
                Arc::new(Float64Array::new(ScalarBuffer::from(values), nulls))
            }
        }
    }

    // ---- arguments ----

    /// A path, a pattern, or a list (or tuple) of them, each a str or an os.PathLike.
    fn paths(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let one = |v: &Bound<'_, PyAny>| -> PyResult<String> {
            let fspath = v.py().import("os")?.getattr("fspath")?;
            let text = fspath.call1((v,)).map_err(|_| {
                PyTypeError::new_err(format!(
                    "{name}: a path or a pattern (str or os.PathLike), not {}",
                    type_name(v)
                ))
            })?;
            text.extract::<String>()
                .map_err(|_| PyTypeError::new_err(format!("{name}: a path as text, not bytes")))
        };
        if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            let all: Vec<String> = value.try_iter()?.map(|v| one(&v?)).collect::<PyResult<_>>()?;
            if all.is_empty() {
                return Err(PyValueError::new_err(format!("{name}: an empty list names no file")));
            }
            return Ok(all);
        }
        Ok(vec![one(value)?])
    }

    /// `by` as the engine takes it: names joined by commas.
    fn key_columns(by: &Bound<'_, PyAny>) -> PyResult<String> {
        let names: Vec<String> = if let Ok(name) = by.cast::<PyString>() {
            vec![name.to_cow()?.into_owned()]
        } else if by.is_instance_of::<PyList>() || by.is_instance_of::<PyTuple>() {
            by.try_iter()?
                .map(|v| {
                    v?.extract::<String>()
                        .map_err(|_| PyTypeError::new_err("by: column names are str".to_owned()))
                })
                .collect::<PyResult<_>>()?
        } else {
            return Err(PyTypeError::new_err(format!(
                "by: a column name or a list of them, not {}",
                type_name(by)
            )));
        };
        if names.is_empty() {
            return Err(PyValueError::new_err("by: name at least one column"));
        }
        if let Some(name) = names.iter().find(|n| n.contains(',')) {
            return Err(PyValueError::new_err(format!(
                "by: {name:?} holds a comma; the engine takes key columns without one"
            )));
        }
        Ok(names.join(","))
    }

    /// `agg` as the engine's `--agg` specs: a dict of column to function(s), "size", or a
    /// list of these.
    fn aggregates(agg: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let mut specs = Vec::new();
        let items: Vec<Bound<'_, PyAny>> = if agg.is_instance_of::<PyList>() {
            agg.try_iter()?.collect::<PyResult<_>>()?
        } else {
            vec![agg.clone()]
        };
        for item in &items {
            if let Ok(text) = item.cast::<PyString>() {
                match text.to_cow()?.as_ref() {
                    "size" => specs.push("size".to_owned()),
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "agg: {other:?} alone is not an aggregate; give \"size\" or a dict such as {{\"v1\": \"sum\"}}"
                        )));
                    }
                }
            } else if let Ok(dict) = item.cast::<PyDict>() {
                for (column, funcs) in dict.iter() {
                    specs.push(column_spec(&column, &funcs)?);
                }
            } else {
                return Err(PyTypeError::new_err(format!(
                    "agg: a dict such as {{\"v1\": \"sum\", \"v3\": [\"mean\", \"std\"]}}, \"size\", or a list of these; not {}",
                    type_name(item)
                )));
            }
        }
        if specs.is_empty() {
            return Err(PyValueError::new_err("agg: name at least one aggregate"));
        }
        Ok(specs)
    }

    /// One dict entry as `COLUMN:FUNC[,FUNC...]`.
    fn column_spec(column: &Bound<'_, PyAny>, funcs: &Bound<'_, PyAny>) -> PyResult<String> {
        let column: String = column
            .extract()
            .map_err(|_| PyTypeError::new_err("agg: its keys are column names (str)"))?;
        let funcs: Vec<String> = if let Ok(func) = funcs.cast::<PyString>() {
            vec![func.to_cow()?.into_owned()]
        } else {
            funcs.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "agg[{column:?}]: a function name or a list of them (\"sum\", [\"mean\", \"std\"])"
                ))
            })?
        };
        if funcs.is_empty() || column.contains([':', ',']) {
            return Err(PyValueError::new_err(format!(
                "agg[{column:?}]: name a column without ':' or ',' and at least one function"
            )));
        }
        Ok(format!("{column}:{}", funcs.join(",")))
    }

    fn separator(sep: &str) -> PyResult<u8> {
        match sep.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Ok(*b),
            _ => Err(PyValueError::new_err(format!(
                "sep: one ASCII character other than a quote or a line end, not {sep:?}"
            ))),
        }
    }

    fn at_least_one(name: &str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let n: i64 = value.extract().map_err(|_| {
            PyTypeError::new_err(format!("{name}: an int, not {}", type_name(value)))
        })?;
        usize::try_from(n)
            .ok()
            .filter(|&n| (1..=4096).contains(&n))
            .ok_or_else(|| PyValueError::new_err(format!("{name}: 1 to 4096, not {n}")))
    }

    /// True or False (a truthy 1 or "no" is refused, not guessed at).
    fn boolean(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        value.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| {
            PyTypeError::new_err(format!("{name}: True or False, not {}", type_name(value)))
        })
    }

    /// Bytes: an int, or a text such as "256MB" or "2GiB", as the command line takes them.
    fn size(name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        if let Ok(text) = value.cast::<PyString>() {
            return dataflow_engine::spill::parse_size(&text.to_cow()?)
                .map_err(|e| PyValueError::new_err(format!("{name}: {e}")));
        }
        let n: i64 = value.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{name}: bytes as an int or a text such as \"256MB\", not {}",
                type_name(value)
            ))
        })?;
        match u64::try_from(n) {
            // Any block size, as the command line's --blocksize takes it; a memory budget of
            // at least 64 kB, as its --memory-limit does.
            Ok(n) if n > 0 && name == "blocksize" => Ok(n),
            _ => dataflow_engine::spill::parse_size(&n.to_string())
                .map_err(|e| PyValueError::new_err(format!("{name}: {e}"))),
        }
    }

    fn type_name(value: &Bound<'_, PyAny>) -> String {
        value.get_type().name().map_or_else(|_| "that".to_owned(), |n| n.to_string())
    }

    /// The engine's error as the exception a Python user expects: a file not there is
    /// FileNotFoundError; bad input ValueError; a disk or the machine failing OSError. Its
    /// message names the command line's options where Python names arguments.
    fn to_python(e: Error) -> PyErr {
        let message = e
            .message()
            .replace("--memory-limit", "memory_limit")
            .replace("--blocksize", "blocksize")
            .replace("--spill-dir", "spill_dir")
            .replace("--agg", "agg")
            .replace("--by", "by");
        match e {
            Error::Usage(_) if is_missing_file(&message) => PyFileNotFoundError::new_err(message),
            Error::Usage(_) | Error::Row(_) => PyValueError::new_err(message),
            Error::Disk(_) | Error::System(_) => PyOSError::new_err(message),
            Error::Workers(_) | Error::Interrupted(_) => PyRuntimeError::new_err(message),
        }
    }

    fn is_missing_file(message: &str) -> bool {
        message.starts_with("no file matches")
            || message.contains(&std::io::Error::from(std::io::ErrorKind::NotFound).to_string())
            || message.contains("No such file or directory")
    }
}
