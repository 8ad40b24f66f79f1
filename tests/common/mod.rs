//! Helpers shared by the end-to-end tests: run the built `convsim` binary and check its outcome.

// Each test binary uses a subset of these helpers.
#![allow(dead_code, reason = "each test binary uses a subset of these helpers")]

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn convsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convsim"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("start convsim")
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = convsim(args);
    assert!(
        out.status.success(),
        "convsim {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail as a user error: exit code 2 and exactly one stderr line.
pub(crate) fn user_error(args: &[&str]) -> String {
    let out = convsim(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "convsim {args:?}: want exit 2, stderr: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
