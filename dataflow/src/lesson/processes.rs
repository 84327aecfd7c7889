//! The small dataflow on processes: this binary started again, once a process, each told
//! its index and every process's address; timely connects them itself - it prints "awaiting
//! connections" on stdout and waits a second between tries while a peer is not there yet
//! (timely_communication 0.32, `networking.rs`), where the engine makes and checks its own
//! connections (`dataflow_engine::cluster`). The engine's supervisor watches the children.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use dataflow_engine::cleanup::TempDir;
use dataflow_engine::cluster::processes::{free_loopback_addresses, kill_all, supervise};

use super::{Small, Where, group_by};
use crate::options::{Question, end_with_parent};

/// `dataflow small-dataflow-process`: one process of the small dataflow's cluster, started by
/// [`on_processes`]; process 0 writes the answer to `--answer-file` (stdout is timely's).
#[derive(clap::Args, Clone)]
pub struct ProcessArgs {
    /// This process's index.
    #[arg(long)]
    index: usize,
    /// Every process's `host:port`, comma-separated.
    #[arg(long, value_delimiter = ',')]
    addresses: Vec<String>,
    #[command(flatten)]
    question: Question,
    /// Where process 0 writes the answer.
    #[arg(long)]
    answer_file: PathBuf,
    files: Vec<PathBuf>,
}

/// A process of the small dataflow: ends with its parent (its stdin closing), writes the
/// answer in process 0, exit 1 on an error.
pub fn process(args: &ProcessArgs) -> std::process::ExitCode {
    end_with_parent();
    let query = args.question.query().unwrap_or_else(|e| timing::cli::usage_error(e));
    let small = Small { files: args.files.clone(), query, sep: args.question.sep };
    let workers = Where::Process { index: args.index, addresses: args.addresses.clone() };
    let written = group_by(&small, workers).and_then(|answer| match answer {
        Some(text) => std::fs::write(&args.answer_file, text).map_err(|e| e.to_string()),
        None => Ok(()), // not process 0
    });
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The small dataflow on `n` processes of this machine, over loopback TCP: process 0's
/// answer. A process that fails stops the others; none outlives this one.
pub fn on_processes(small: &Small, n: usize) -> Result<String, String> {
    let addresses = free_loopback_addresses(n).map_err(|e| e.to_string())?;
    let program = std::env::current_exe().map_err(|e| e.to_string())?;
    let scratch = TempDir::new("hpc-rs-small-dataflow-").map_err(|e| e.to_string())?;
    let answer_file = scratch.path().join("answer.csv");
    let mut children = Vec::new();
    let mut stdins = Vec::new(); // held open: a child ends when its stdin closes
    for index in 0..n {
        let mut command = Command::new(&program);
        command.arg("small-dataflow-process").arg(format!("--index={index}"));
        command.arg(format!("--addresses={}", addresses.join(",")));
        command.args(Question::args(&small.query, small.sep));
        command.arg("--answer-file").arg(&answer_file).args(&small.files);
        command.stdin(Stdio::piped()).stdout(Stdio::null());
        match command.spawn() {
            Ok(mut child) => {
                stdins.push(child.stdin.take());
                children.push(Some(child));
            }
            Err(e) => {
                kill_all(&mut children);
                return Err(format!("starting process {index}: {e}"));
            }
        }
    }
    let ended = supervise(&mut children).map_err(|e| e.to_string())?;
    drop(stdins);
    ended.map_err(|lost| lost.unwrap_or_else(|| "a process failed (its error is above)".into()))?;
    std::fs::read_to_string(&answer_file).map_err(|e| format!("process 0's answer: {e}"))
}
