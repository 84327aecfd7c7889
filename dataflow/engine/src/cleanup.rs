//! Nothing left behind: the temporary files and folders a run makes - the hostfile of its
//! processes, spill files, answer parts being written - are removed when the run ends, however
//! it ends: by returning (a [`TempDir`] is dropped), by `exit` on an error (an `atexit`
//! handler; `std::process::exit` runs those), and by Ctrl-C or `kill` (SIGINT and SIGTERM are
//! taken by a thread of their own, which removes them and then lets the signal end the
//! process as it would have). Only SIGKILL, which no program can catch, leaves them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};

/// What is to be removed at the end, by whichever way the process ends.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes what is registered when the process ends by a signal or by `exit`. Called first
/// thing in `main`, before any other thread starts: the signals are blocked in every thread
/// (each inherits the mask) and waited for by one.
pub fn install() {
    let signals = termination();
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&signals), None).is_err() {
        return; // then the default: the signal ends the process, and files may stay
    }
    std::thread::spawn(move || {
        let Ok(signal) = signals.wait() else { return };
        remove_all();
        // Back to the default action, unblocked here, raised again: the process ends as the
        // signal would have ended it (a parent sees "killed by SIGINT", not an exit code).
        // SAFETY: resetting a signal to its default disposition installs no handler.
        #[allow(unsafe_code)]
        unsafe {
            let _ = nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl);
        }
        let mut just = SigSet::empty();
        just.add(signal);
        let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&just), None);
        let _ = nix::sys::signal::raise(signal);
        std::process::exit(128 + signal as i32);
    });
    extern "C" fn at_exit() {
        remove_all();
    }
    // SAFETY: registers a plain function with the C library, to run at `exit`.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::atexit(at_exit);
    }
}

fn termination() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

fn remove_all() {
    // try_lock: at exit, a thread stopped while holding the lock must not hang the process.
    for _ in 0..100 {
        if let Ok(mut live) = LIVE.try_lock() {
            for path in live.drain(..) {
                remove(&path);
            }
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn remove(path: &Path) {
    if path.is_dir() {
        // Renamed away first: on Ctrl-C the workers still write spill files there, and a file
        // made while the folder is emptied would keep it (its removal fails, "not empty").
        // Once renamed, a new file under the old name fails instead - but one whose name was
        // looked up just before the rename can still be made in the renamed folder while it is
        // emptied (seen once in a test run): so the removal is tried again, a few times, until
        // the folder is gone.
        let mut doomed = path.as_os_str().to_owned();
        doomed.push(".removing");
        let doomed = PathBuf::from(doomed);
        let gone = if std::fs::rename(path, &doomed).is_ok() { doomed.as_path() } else { path };
        for _ in 0..20 {
            if std::fs::remove_dir_all(gone).is_ok() || !gone.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    } else {
        let _ = std::fs::remove_file(path);
    }
}

fn register(path: &Path) {
    LIVE.lock().expect("no panics while held").push(path.to_owned());
}

fn unregister(path: &Path) {
    LIVE.lock().expect("no panics while held").retain(|p| p != path);
}

/// A folder of this run's own, private to the user (0700), removed with everything in it
/// when dropped or when the process ends.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh folder named `prefix` and random characters in the system's temporary folder.
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        TempDir::new_in(&std::env::temp_dir(), prefix)
    }

    /// The same in `parent`.
    pub fn new_in(parent: &Path, prefix: &str) -> std::io::Result<TempDir> {
        let path = tempfile::Builder::new().prefix(prefix).tempdir_in(parent)?.keep();
        register(&path);
        Ok(TempDir { path })
    }

    /// Where the folder is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        unregister(&self.path);
        remove(&self.path);
    }
}

/// Makes freed memory go back to the system, so that the peak a budget allows is the peak
/// the process shows. glibc's malloc raises the size from which it maps large blocks on their
/// own each time one is freed (up to 32 MB); after that, tables freed by a spill stay in its
/// heap, counted as the process's, and the next ones are mapped beside them. A fixed threshold
/// keeps large blocks mapped on their own: freed, they are returned at once.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets one of malloc's tunables, before this program allocates much.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

#[cfg(test)]
mod tests {
    use super::remove;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// As a spill folder removed on Ctrl-C while the workers still write into it: a file made
    /// there meanwhile must not keep the folder.
    #[test]
    fn a_folder_is_removed_whole_while_a_thread_still_writes_into_it() {
        for _ in 0..20 {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join("run");
            std::fs::create_dir(&dir).unwrap();
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let _ = std::fs::write(dir.join(format!("spill-{i}")), b"groups");
                        i += 1;
                    }
                });
                std::thread::sleep(std::time::Duration::from_millis(5));
                remove(&dir);
                stop.store(true, Ordering::Relaxed);
            });
            let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().flatten().collect();
            assert!(left.is_empty(), "left behind: {left:?}");
        }
    }
}
