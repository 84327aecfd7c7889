//! The one error type of the engine: what failed, and where, in one line. The engine never
//! ends the process: it returns an [`Error`], and the caller (the `dataflow` binary, a Python
//! module) decides what to do with it - the binary exits with 2 for [`Error::Usage`] and 1 for
//! the rest.

use std::fmt;
use std::path::Path;

/// Why a group-by has no answer. Every message is one line naming the file, row, column,
/// folder, option or process at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Bad input found before any row is read: a file that is not there or is empty, a
    /// column the files lack, a query, a hostfile, a key.
    Usage(String),
    /// A row that cannot be read (its file, line and column), or a file that failed mid-way.
    Row(String),
    /// Spilling or writing failed: a full disk, an unwritable folder.
    Disk(String),
    /// timely could not start, or a worker failed.
    Workers(String),
    /// The machine failed the run: no port, no temporary folder, a process that would not
    /// start, a peer that never connected.
    System(String),
    /// The caller stopped the run ([`crate::JobBuilder::stop_when`]).
    Interrupted(String),
}

impl Error {
    /// A file that failed mid-way, or a row in it: its path, then why.
    pub(crate) fn in_file(path: &Path, why: &dyn fmt::Display) -> Error {
        Error::Row(format!("{}: {why}", path.display()))
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match self {
            Error::Usage(m)
            | Error::Row(m)
            | Error::Disk(m)
            | Error::Workers(m)
            | Error::System(m)
            | Error::Interrupted(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}
