//! Provenance root attributes of run files: how, where and from what a run was made.
//!
//! | attribute | value |
//! |---|---|
//! | `command_line` | the command, arguments quoted for a POSIX shell |
//! | `convsim_version` | (written by convsim-io) the crate version |
//! | `git_commit` | `git rev-parse HEAD` of the checkout convsim was built from (`unknown` otherwise) |
//! | `host` | the machine's host name |
//! | `threads` | integer: worker threads (rayon) |
//! | `ranks` | integer: processes of the run (1: convsim runs in one process) |
//! | `inputs_sha256` | one line per input file, `<sha256>  <absolute path>` (the format of `sha256sum`, so `sha256sum -c` checks them), the scenario file first |
//!
//! The stored `scenario` text names its input files by absolute paths (see [`crate::paths`]),
//! so `convsim rerun run.h5` runs it again from any folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use convsim_io::RunWriter;
use sha2::{Digest, Sha256};

use crate::config::Scenario;

/// The git commit convsim was built from (set by `build.rs`; empty outside a checkout).
pub const GIT_COMMIT: &str = env!("CONVSIM_GIT_COMMIT");

/// Hex SHA-256 of a file's bytes (`None` if it cannot be read).
#[must_use]
pub fn sha256_file(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The host name (Linux: the kernel's; else `HOSTNAME`; else `unknown`).
#[must_use]
pub fn host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// An argument quoted for a POSIX shell when it needs it.
fn quote(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// This process's command line, quoted.
#[must_use]
pub fn command_line() -> String {
    std::env::args()
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `<sha256>  <path>` lines of the scenario file and every input it names.
#[must_use]
pub fn inputs_sha256(s: &Scenario) -> String {
    let base = s.file.parent().unwrap_or(Path::new("."));
    let scenario = crate::paths::absolute(
        base,
        &s.file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    );
    let table: toml::Table = toml::from_str(&s.text).unwrap_or_default();
    std::iter::once(scenario)
        .chain(crate::paths::input_files(&table, base))
        .map(|p| {
            let h = sha256_file(&p).unwrap_or_else(|| "unreadable".into());
            format!("{h}  {}", p.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds the string provenance attributes to a run's root attributes.
pub(crate) fn add_to(attrs: &mut BTreeMap<String, String>, s: &Scenario) {
    attrs.insert("command_line".into(), command_line());
    let commit = if GIT_COMMIT.is_empty() {
        "unknown"
    } else {
        GIT_COMMIT
    };
    attrs.insert("git_commit".into(), commit.into());
    attrs.insert("host".into(), host());
    attrs.insert("inputs_sha256".into(), inputs_sha256(s));
}

/// Writes the numeric provenance attributes (`threads`, `ranks`).
///
/// # Errors
/// As [`RunWriter::set_number`].
pub(crate) fn add_numbers(w: &mut RunWriter) -> convsim_io::Result<()> {
    w.set_number("threads", rayon::current_num_threads() as f64)?;
    w.set_number("ranks", 1.0)
}

/// Records whether an imaginary-time run converged: `converged` (`"true"`/`"false"`) and
/// `converged_step` (integer, the last step).
///
/// # Errors
/// As [`RunWriter::set_attribute`].
pub(crate) fn record_convergence(
    w: &mut RunWriter,
    converged: bool,
    step: u64,
) -> convsim_io::Result<()> {
    w.set_attribute("converged", if converged { "true" } else { "false" })?;
    w.set_number("converged_step", step as f64)
}

#[cfg(test)]
mod tests {
    use super::{hex, quote};
    use sha2::{Digest, Sha256};

    #[test]
    fn sha256_of_known_strings() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn arguments_are_quoted_for_the_shell() {
        assert_eq!(quote("run"), "run");
        assert_eq!(quote("time.steps=10"), "time.steps=10");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
