//! `dataflow` across hosts, not only on loopback: each host a network namespace of its own,
//! joined by a bridge that lives in yet another namespace. The root namespace is never
//! touched, and the addresses exist only inside these namespaces: nothing can leave the
//! machine. Needs root and `ip`; elsewhere each test says why it skipped.

// The helpers below panic on a failed file operation, which fails the test: what it should do.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::dataflow::{finish, lasting_data, signal, start_cluster_process, tcp_sockets};
use common::binary;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// The port every host listens on (each host has its own address, so one port serves all).
const PORT: u16 = 7100;

/// `hosts` namespaces on one bridge, removed when dropped (a failed test included).
struct Hosts {
    prefix: String,
    hosts: usize,
    /// The hostfile of the first `hosts - strangers` hosts, and the cluster's key.
    folder: tempfile::TempDir,
}

impl Hosts {
    /// Builds them, or `None` (the test skipped, with the reason) where this user cannot.
    fn build(hosts: usize, cluster: usize) -> Option<Hosts> {
        // /proc/self belongs to the effective user: 0 for root.
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root || Command::new("ip").arg("-V").output().is_err() {
            common::skip("network namespaces need root and the ip command");
            return None;
        }
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        let serial = BUILT.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("hpcrs{}x{serial}", std::process::id());
        let folder = tempfile::Builder::new().prefix("hpc-rs-hosts-").tempdir().unwrap();
        let built = Hosts { prefix, hosts, folder };
        let bridge = built.bridge();
        ip(&["netns", "add", &bridge]);
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        for host in 0..hosts {
            let (name, port) = (built.name(host), format!("p{host}"));
            ip(&["netns", "add", &name]);
            ip(&[
                "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "eth0", "netns", &name,
            ]);
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"]);
            ip(&["-n", &name, "addr", "add", &format!("{}/24", address(host)), "dev", "eth0"]);
            ip(&["-n", &name, "link", "set", "eth0", "up"]);
            ip(&["-n", &name, "link", "set", "lo", "up"]);
        }
        let lines: Vec<String> = (0..cluster).map(|h| format!("{}:{PORT}\n", address(h))).collect();
        std::fs::write(built.hostfile(), lines.concat()).unwrap();
        std::fs::write(built.key(), b"the test cluster's key, 32 bytes").unwrap();
        Some(built)
    }

    fn name(&self, host: usize) -> String {
        format!("{}h{host}", self.prefix)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    fn hostfile(&self) -> PathBuf {
        self.folder.path().join("hosts.txt")
    }

    fn key(&self) -> PathBuf {
        self.folder.path().join("cluster.key")
    }

    /// `dataflow groupby` on `files` as process `process` of the hostfile, run on `host`.
    fn start(
        &self,
        host: usize,
        files: &Path,
        process: usize,
        key: &Path,
        extra: &[&str],
    ) -> Child {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name(host)]).arg(binary("dataflow"));
        let (hostfile, process) = (self.hostfile(), process.to_string());
        start_cluster_process(command, files, (&hostfile, key), &process, extra)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, whose peers go with them.
        for name in (0..self.hosts).map(|h| self.name(h)).chain([self.bridge()]) {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}

/// Host `host`'s address, which exists only inside its namespace.
fn address(host: usize) -> String {
    format!("10.213.0.{}", host + 1)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    common::succeeded(&format!("ip {}", args.join(" ")), &out);
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn three_hosts_give_one_worker_s_answer_and_refuse_a_stranger() {
    let Some(hosts) = Hosts::build(4, 3) else { return };
    let (data, answer) = lasting_data();
    let first = hosts.start(0, data, 0, &hosts.key(), &[]);
    let second = hosts.start(1, data, 1, &hosts.key(), &[]);
    // A fourth host knocks on every port: garbage, timely's own greeting (an index), then
    // the binary itself with another key, as process 2.
    let knock = format!(
        "for a in {} {} {}; do (exec 3<>/dev/tcp/$a/{PORT} && printf '%0100d' 0 >&3; exec 3<>/dev/tcp/$a/{PORT} && printf '\\0\\0\\0\\0\\0\\0\\0\\1' >&3) 2>/dev/null; done; true",
        address(0),
        address(1),
        address(2)
    );
    let started = Instant::now();
    while tcp_sockets(first.id()).iter().all(|s| s.1 != "0A") {
        assert!(started.elapsed() < Duration::from_secs(10), "host 0 never listened");
        std::thread::sleep(Duration::from_millis(5));
    }
    let knocked = Command::new("ip")
        .args(["netns", "exec", &hosts.name(3), "bash", "-c", &knock])
        .output()
        .unwrap();
    common::succeeded("knocking", &knocked);
    let wrong = hosts.folder.path().join("wrong.key");
    std::fs::write(&wrong, b"somebody else's key, long enough").unwrap();
    let impostor = finish(hosts.start(3, data, 2, &wrong, &["--connect-timeout", "1"]));
    assert_eq!(impostor.status.code(), Some(1), "{}", text(&impostor.stderr));
    let third = hosts.start(2, data, 2, &hosts.key(), &[]);
    let outputs = [finish(first), finish(second), finish(third)];
    for (host, out) in outputs.iter().enumerate() {
        assert!(out.status.success(), "host {host}: {}", text(&out.stderr));
    }
    assert_eq!(&text(&outputs[0].stdout), answer, "1 worker's answer, from 3 hosts");
    assert!(outputs[1].stdout.is_empty() && outputs[2].stdout.is_empty());
    let stranger = format!("note: refused a connection from {}:", address(3));
    for (host, out) in outputs.iter().take(2).enumerate() {
        let said = text(&out.stderr);
        assert!(said.contains(&stranger), "host {host} names the stranger: {said}");
        assert!(said.contains("not a dataflow process (a wrong greeting)"), "{said}");
        assert!(said.contains("not a dataflow process (too short a greeting)"), "{said}");
        assert!(said.contains("it did not prove it holds the cluster's key"), "{said}");
    }
}

#[test]
fn a_host_killed_mid_run_ends_the_others_with_one_line_each() {
    let Some(hosts) = Hosts::build(3, 3) else { return };
    let (data, _) = lasting_data();
    let children: Vec<Child> = (0..3).map(|h| hosts.start(h, data, h, &hosts.key(), &[])).collect();
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let started = Instant::now();
    // Caught once every host has both its connections: stopped, one killed, the rest go on.
    while !pids.iter().all(|&pid| tcp_sockets(pid).iter().filter(|s| s.1 == "01").count() >= 2) {
        assert!(started.elapsed() < Duration::from_secs(20), "the hosts never connected");
        std::thread::sleep(Duration::from_millis(1));
    }
    for &pid in &pids {
        signal(pid, Signal::SIGSTOP);
    }
    signal(pids[2], Signal::SIGKILL);
    signal(pids[0], Signal::SIGCONT);
    signal(pids[1], Signal::SIGCONT);
    let started = Instant::now();
    let outputs: Vec<Output> = children.into_iter().map(finish).collect();
    assert!(started.elapsed() < Duration::from_secs(10), "ended within seconds");
    let lost = format!("error: lost process 2 at {}:{PORT} (", address(2));
    for (host, out) in outputs.iter().take(2).enumerate() {
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "host {host}: {said}");
        assert_eq!(said.lines().count(), 1, "one line: {said}");
        assert!(said.starts_with(&lost), "host {host}: {said}");
        assert!(out.stdout.is_empty(), "no answer from a stopped job");
    }
}

#[test]
fn a_host_that_never_starts_is_named_after_the_connect_timeout() {
    let Some(hosts) = Hosts::build(3, 3) else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "origin,dep_delay\nBOS,1\n").unwrap();
    binary("dataflow"); // built first, if the build is still to come: not timed
    let started = Instant::now();
    let timeout = ["--connect-timeout", "1"];
    let running = [0, 1].map(|h| hosts.start(h, dir.path(), h, &hosts.key(), &timeout));
    let missing = format!("process 2 at {}:{PORT}", address(2));
    for (host, out) in running.into_iter().map(finish).enumerate() {
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "host {host}: {said}");
        assert_eq!(said.lines().count(), 1, "one line: {said}");
        assert!(said.starts_with("error: no connection within 1.00 s from "), "{said}");
        assert!(said.contains(&missing) && !said.contains("process 1 at"), "{said}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "ended soon after the timeout");
}
