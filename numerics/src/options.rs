//! The command line and its checks: which workloads run, at what size, refused (exit 2) where
//! the result would not fit in memory or the picture could not be written.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use timing::chart::Picture;
use timing::cli;

/// Takeaways 3 and 5: NumPy, SciPy, Cython and Numba's parts, played in Rust.
#[derive(Parser)]
#[command(about, long_about = None, mut_args(cli::global))]
pub struct Args {
    /// One workload; without one, both run at their defaults.
    #[command(subcommand)]
    pub workload: Option<Workload>,
    /// The timed workload: distances' N and the Julia set's width (both, without a workload).
    #[arg(long, global = true, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    size: Option<u64>,
    #[command(flatten)]
    pub threads: cli::Threads,
    #[command(flatten)]
    pub timed: cli::Timed<cli::VsPython>,
}

#[derive(Subcommand)]
pub enum Workload {
    /// Pairwise Euclidean distances between N random points (SciPy's cdist, Numba's classic).
    Distances(DistanceArgs),
    /// The Julia set of "High Performance Python", chapter 2.
    Julia(JuliaArgs),
}

#[derive(clap::Args, Clone)]
pub struct DistanceArgs {
    /// Number of points N (the result is N x N); the same as --size. [default: 2000]
    #[arg(long, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    n: Option<u64>,
    /// Dimensions D of each point.
    #[arg(long, default_value_t = 16, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    dim: u64,
}

#[derive(clap::Args, Clone)]
pub struct JuliaArgs {
    /// Width (and height) of the grid in pixels; the same as --size. [default: 1000]
    #[arg(long, value_parser = cli::up_to::<1_000_000>, allow_hyphen_values = true)]
    width: Option<u64>,
    /// Most iterations per pixel.
    #[arg(long, default_value_t = 300, value_parser = cli::up_to::<1_000_000>,
          allow_hyphen_values = true)]
    max_iter: u64,
    /// Also write the picture to this PNG file.
    #[arg(long, value_name = "PATH")]
    png: Option<PathBuf>,
}

/// Distances' N and dimensions.
pub type DistanceRun = (usize, usize);
/// The Julia set's width, steps and PNG file.
pub type JuliaRun = (usize, u32, Option<Picture>);

/// The workloads to run - the one named, or both at their defaults - checked (bad input: exit
/// 2): distances' N and dimensions, the Julia set's width, steps and PNG file.
pub fn workloads(args: &Args) -> (Option<DistanceRun>, Option<JuliaRun>) {
    let (distances, julia) = match &args.workload {
        None => (Some(DistanceArgs::default()), Some(JuliaArgs::default())),
        Some(Workload::Distances(d)) => (Some(d.clone()), None),
        Some(Workload::Julia(j)) => (None, Some(j.clone())),
    };
    (
        distances.map(|d| checked_distances(&d, args.size)),
        julia.map(|j| checked_julia(&j, args.size)),
    )
}

/// The size the user asked for with `flag` (`--n`, `--width`) or `--size`, and the name of the
/// option that gave it, for messages; both at once must agree.
fn size_from(
    own: Option<u64>,
    flag: &'static str,
    size: Option<u64>,
    default: u64,
) -> (u64, &'static str) {
    match (own, size) {
        (Some(own), Some(size)) if own != size => {
            cli::usage_error(format!("{flag} {own} and --size {size}: give one of them"))
        }
        (Some(own), _) => (own, flag),
        (None, Some(size)) => (size, "--size"),
        (None, None) => (default, flag),
    }
}

/// N and D as sizes, refused (exit 2) where the result would not fit in memory.
fn checked_distances(args: &DistanceArgs, size: Option<u64>) -> DistanceRun {
    let (n, flag) = size_from(args.n, "--n", size, 2000);
    let (n128, dim) = (u128::from(n), u128::from(args.dim));
    // Three N x N results live at once (the reference, the last and the next), plus the points
    // and their transpose.
    let bytes = 3 * n128 * n128 * 8 + 2 * n128 * dim * 8;
    cli::check_memory(bytes, &format!("{flag} {n}")).unwrap_or_else(|e| cli::usage_error(e));
    let size = |v: u64| {
        usize::try_from(v).unwrap_or_else(|_| cli::usage_error(format!("{flag} too large")))
    };
    (size(n), size(args.dim))
}

/// The Julia arguments, refused where the counts would not fit in memory, or the PNG file
/// cannot be written (checked first, so that a typo does not cost the whole run; the picture
/// itself replaces the file only once it is whole).
fn checked_julia(args: &JuliaArgs, size: Option<u64>) -> JuliaRun {
    let (width, flag) = size_from(args.width, "--width", size, 1000);
    let pixels = u128::from(width + 1) * u128::from(width + 1);
    cli::check_memory(3 * pixels * 4 + pixels * 3, &format!("{flag} {width}"))
        .unwrap_or_else(|e| cli::usage_error(e));
    let png = args.png.as_deref().map(|path| {
        Picture::create(path).unwrap_or_else(|e| cli::usage_error(format!("--png: {e}")))
    });
    let width =
        usize::try_from(width).unwrap_or_else(|_| cli::usage_error(format!("{flag} too large")));
    let max_iter = u32::try_from(args.max_iter).expect("at most 1,000,000");
    (width, max_iter, png)
}

impl Default for DistanceArgs {
    fn default() -> DistanceArgs {
        DistanceArgs { n: None, dim: 16 }
    }
}

impl Default for JuliaArgs {
    fn default() -> JuliaArgs {
        JuliaArgs { width: None, max_iter: 300, png: None }
    }
}
