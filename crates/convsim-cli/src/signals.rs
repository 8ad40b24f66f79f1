//! SIGINT and SIGTERM during `convsim run`.
//!
//! The first signal only sets a flag ([`install`] returns it; the driver reads it at every step
//! boundary it controls, see `convsim_scenario::driver::RunOptions::stop`): the run writes a
//! checkpoint of that step, marks its file `status = "interrupted"` and the command exits with
//! 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM), saying how to resume. A second
//! signal exits at once from the handler (`_exit`, nothing else is safe there): the run file is
//! then as after a kill, readable, and `--resume` continues from the last checkpoint. Once the
//! outcome is reported ([`settle`]), a signal exits quietly with the code already decided.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signal received (0: none).
static STOP: AtomicI32 = AtomicI32::new(0);
/// The run's outcome is decided and reported ([`settle`]).
static SETTLED: AtomicBool = AtomicBool::new(false);

/// Says that the outcome of the run has been reported: a signal from now on (for example the
/// SIGTERM `mpirun` sends the last ranks once another one has exited with an error) exits at
/// once, quietly, with 128 + the first signal received, instead of announcing a second stop.
pub fn settle() {
    SETTLED.store(true, Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let first = STOP.swap(sig, Ordering::SeqCst);
    if SETTLED.load(Ordering::SeqCst) {
        // SAFETY: _exit(2) is async-signal-safe.
        unsafe { libc::_exit(128 + if first != 0 { first } else { sig }) };
    }
    if first != 0 {
        const MSG: &[u8] = b"\nconvsim: interrupted again: exiting now; the run file stays readable and --resume continues from the last checkpoint\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is a static buffer.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(128 + sig);
        }
    }
}

/// Installs the handlers of SIGINT and SIGTERM and returns the flag they set.
#[must_use]
pub fn install() -> &'static AtomicI32 {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic and calls
        // async-signal-safe functions. SA_RESTART keeps interrupted reads and writes going.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&raw mut sa.sa_mask);
            libc::sigaction(sig, &raw const sa, std::ptr::null_mut());
        }
    }
    &STOP
}

/// The name of a signal number, for messages.
#[must_use]
pub fn name(sig: i32) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
