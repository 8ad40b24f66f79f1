//! Writing to stdout and stderr like a well-kept Unix tool: a closed pipe (`convsim run ... |
//! head -1`) ends the command quietly with exit code 0 instead of a panic, and a closed stderr
//! never stops a run.

use std::io::Write as _;

/// Writes `text` to stdout; if the reader has gone (broken pipe), exits quietly with code 0
/// (the command's work is done: output is printed after it).
pub(crate) fn emit(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|()| o.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Writes `text` to stderr, ignoring failures (progress and messages are not worth a crash).
pub(crate) fn emit_err(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes()).and_then(|()| e.flush());
}

/// `println!` through [`emit`].
macro_rules! outln {
    () => { $crate::output::emit("\n") };
    ($($t:tt)*) => { $crate::output::emit(&format!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` through [`emit_err`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::output::emit_err(&format!("{}\n", format_args!($($t)*))) };
}

pub(crate) use {errln, outln};
