//! What this machine tells about itself and the process: the cores this process may use, peak
//! and resident memory, page faults and the page size behind them, memory available (Linux's
//! /proc and /sys), and where generated files live (the target directory).

/// The cores this process may use: `available_parallelism`, so a `taskset` or a cgroup's CPU
/// limit counts. The one place every topic reads it (a sentence about "2 cores" and the number
/// of threads it started must agree).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How Linux backs fresh anonymous memory (`/sys/kernel/mm/transparent_hugepage/enabled`):
/// with `always`, a page fault may hand out a whole 2 MiB page instead of 4 KiB, so counts of
/// faults drop about 512-fold; with `madvise`, only where a program asks (NumPy does, for
/// arrays of 4 MB and more); with `never`, always 4 KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HugePages {
    /// Every large enough anonymous mapping may get 2 MiB pages.
    Always,
    /// Only mappings a program marks with `madvise(MADV_HUGEPAGE)`.
    Madvise,
    /// 4 KiB pages only.
    Never,
}

impl HugePages {
    /// The setting, or `None` where the system does not tell (not Linux, no /sys).
    pub fn now() -> Option<HugePages> {
        let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
        HugePages::parse(&text)
    }

    /// The selected mode of a line such as `always [madvise] never`.
    fn parse(text: &str) -> Option<HugePages> {
        let chosen = text.split_whitespace().find(|w| w.starts_with('['))?;
        match chosen.trim_matches(['[', ']']) {
            "always" => Some(HugePages::Always),
            "madvise" => Some(HugePages::Madvise),
            "never" => Some(HugePages::Never),
            _ => None,
        }
    }

    /// The bytes one page fault of an ordinary allocation (no `madvise`) brings in, as far as
    /// the setting tells: 2 MiB with `always`, 4 KiB otherwise.
    pub fn fault_bytes(this: Option<HugePages>) -> u64 {
        match this {
            Some(HugePages::Always) => 2 << 20,
            _ => 4096,
        }
    }
}

/// Where generated things live (the Python twins' environment, `dataflow`'s data):
/// `$CARGO_TARGET_DIR` when set (made absolute from the current folder, as Cargo reads a
/// relative one: the paths under it are handed to pip and maturin, which run elsewhere); else
/// the target directory this binary was built into (the folder holding Cargo's
/// `CACHEDIR.TAG`); else `hpc-rs` in the temp dir, for a binary installed elsewhere.
pub fn target_dir() -> std::path::PathBuf {
    let named = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty());
    target_dir_for(named.map(Into::into), std::env::current_exe().ok())
}

fn target_dir_for(
    named: Option<std::path::PathBuf>,
    exe: Option<std::path::PathBuf>,
) -> std::path::PathBuf {
    if let Some(target) = named {
        return std::path::absolute(&target).unwrap_or(target);
    }
    let built_into = exe.as_deref().and_then(|exe| {
        exe.ancestors().skip(1).take(3).find(|dir| dir.join("CACHEDIR.TAG").is_file())
    });
    built_into.map_or_else(|| std::env::temp_dir().join("hpc-rs"), std::path::Path::to_path_buf)
}

/// This process's peak resident memory so far, in bytes (Linux: VmHWM), or `None` where the
/// system does not tell.
pub fn peak_memory() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Lowers the peak that [`peak_memory`] reports to what is resident now (Linux: writing 5 to
/// /proc/self/clear_refs); `false` where that cannot be done.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs `work` and returns how far the process's resident memory peaked above where it
/// started, in bytes, or `None` where the system does not tell.
pub fn peak_memory_growth<T>(work: impl FnOnce() -> T) -> (T, Option<u64>) {
    let reset = reset_peak_memory();
    let before = status_kib("VmRSS:");
    let value = work();
    let grown = match (reset, before, status_kib("VmHWM:")) {
        (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before) * 1024),
        _ => None,
    };
    (value, grown)
}

/// A `kB` field of /proc/self/status.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Minor page faults of this process so far: fresh pages the kernel handed out on first touch
/// (field 10 of /proc/self/stat, all threads together); 0 where the system does not say.
pub fn minor_page_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}

/// The CPU's name as Linux reports it (`model name` in /proc/cpuinfo), if it does.
pub fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Bytes of memory the kernel can give without swapping, where the system tells us (Linux).
/// `HPC_RS_MEMORY_AVAILABLE=<bytes>` pretends the machine has that much, to try the limit (the
/// tests use it so that a refusal does not depend on the machine's size).
pub fn available_memory() -> Option<u64> {
    if let Some(pretend) =
        std::env::var("HPC_RS_MEMORY_AVAILABLE").ok().and_then(|v| v.parse().ok())
    {
        return Some(pretend);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_huge_page_setting_is_the_bracketed_word() {
        assert_eq!(HugePages::parse("always [madvise] never\n"), Some(HugePages::Madvise));
        assert_eq!(HugePages::parse("[always] madvise never"), Some(HugePages::Always));
        assert_eq!(HugePages::parse("always madvise [never]"), Some(HugePages::Never));
        assert_eq!(HugePages::parse("always madvise never"), None);
        assert_eq!(HugePages::fault_bytes(Some(HugePages::Always)), 2 << 20);
        assert_eq!(HugePages::fault_bytes(None), 4096);
    }

    #[test]
    fn the_target_directory_honours_cargo_target_dir() {
        let named = target_dir_for(Some("/tmp/elsewhere".into()), None);
        assert_eq!(named, std::path::Path::new("/tmp/elsewhere"));
        // A relative one, from the current folder (a venv's path under it must hold anywhere).
        let relative = target_dir_for(Some("target".into()), None);
        assert_eq!(relative, std::env::current_dir().unwrap().join("target"));
        // This test binary was built into target/debug/deps: found through CACHEDIR.TAG.
        let exe = std::env::current_exe().unwrap();
        let found = target_dir_for(None, Some(exe.clone()));
        assert!(found.join("CACHEDIR.TAG").is_file() && exe.starts_with(&found), "{found:?}");
        let loose = target_dir_for(None, Some("/usr/local/bin/numerics".into()));
        assert_eq!(loose, std::env::temp_dir().join("hpc-rs"));
    }
}
