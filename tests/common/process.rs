//! The real `punchguard` binary as an operator runs it: the CLI, and
//! `serve` on free ports with the addresses it prints read back.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_punchguard");

pub fn cli(args: &[&str], database: impl AsRef<OsStr>) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--database")
        .arg(database.as_ref())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub struct Served {
    pub child: Child,
    pub grpc: String,
    pub metrics: String,
    /// The console's URL, when `--console-listen` was given.
    pub console: Option<String>,
}

/// Starts `punchguard serve` on free ports and reads the addresses it prints.
pub fn serve(database: impl AsRef<OsStr>) -> Served {
    serve_with(database, "warn", Stdio::inherit(), &[])
}

pub fn serve_logging(database: impl AsRef<OsStr>, rust_log: &str, stderr: Stdio) -> Served {
    serve_with(database, rust_log, stderr, &[])
}

/// `serve` with more flags.
pub fn serve_with(
    database: impl AsRef<OsStr>,
    rust_log: &str,
    stderr: Stdio,
    extra: &[&str],
) -> Served {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            // Load from one device token: well beyond a phone's rate.
            "--device-punches-per-minute",
            "1000000",
        ])
        .args(extra)
        .arg("--database")
        .arg(database.as_ref())
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Owned from here on, so that a failure below still kills the server.
    let mut served = Served {
        child,
        grpc: String::new(),
        metrics: String::new(),
        console: None,
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut next_line = || {
        lines
            .next()
            .expect("server exited before listening")
            .unwrap()
    };
    // The README's promise: the first line says where gRPC listens.
    let first = next_line();
    served.grpc = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line is {first:?}"))
        .to_owned();
    let second = next_line();
    served.metrics = second
        .strip_prefix("metrics on ")
        .unwrap_or_else(|| panic!("the second line is {second:?}"))
        .to_owned();
    if extra.contains(&"--console-listen") {
        let third = next_line();
        served.console = Some(
            third
                .strip_prefix("console on ")
                .unwrap_or_else(|| panic!("the third line is {third:?}"))
                .to_owned(),
        );
    }
    served
}

impl Drop for Served {
    /// A test that fails midway leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
