//! Progress of `convsim run` on stderr.
//!
//! - On a terminal: a bar with the step count, a rate rounded to 3 significant digits and the
//!   ETA once it means something (after 5% of the steps or 3 s).
//! - Not on a terminal (a batch job, `2>log`): one line at the start, then every 10% of the
//!   steps or every 10 s, whichever comes first, and at the end:
//!   `progress: step 500/1000 (50%), t = 5.000e-1 s, 1.23e3 steps/s, ETA 0.4 s`.
//! - `-q`: nothing. `-v`: also one line per frame written (both modes).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use convsim_scenario::driver::Progress;

use crate::output::errln;

/// How much progress to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: nothing.
    Quiet,
    /// Default.
    Normal,
    /// `-v`: also a line per frame.
    Verbose,
}

/// Seconds between two lines when not on a terminal.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// A number with 3 significant digits (`1.23e3` style from 10^3 and below 10^-2).
pub(crate) fn sig3(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        format!("{v}")
    } else if (1e-2..1e3).contains(&a) {
        let d = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.d$}")
    } else {
        format!("{v:.2e}")
    }
}

/// A duration for an ETA: `42 s`, `3.5 min`, `2.1 h`.
pub(crate) fn human_secs(s: f64) -> String {
    if s < 60.0 {
        format!("{} s", sig3(s))
    } else if s < 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The progress display of one run.
pub(crate) struct Reporter {
    name: String,
    verbosity: Verbosity,
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
    first: Option<(u64, Instant)>,
    last_line: Option<(Instant, u64)>,
    frames: usize,
}

impl Reporter {
    pub(crate) fn new(name: &str, total: u64, verbosity: Verbosity) -> Self {
        let bar = (verbosity != Verbosity::Quiet && std::io::stderr().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new(total);
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} steps{msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_prefix(name.to_string());
            pb
        });
        Reporter {
            name: name.into(),
            verbosity,
            bar,
            start: Instant::now(),
            first: None,
            last_line: None,
            frames: 0,
        }
    }

    /// Steps per second since the first report, and the ETA once meaningful.
    fn rate_eta(&self, p: &Progress, now: Instant) -> (Option<f64>, Option<f64>) {
        let Some((k0, t0)) = self.first else {
            return (None, None);
        };
        let secs = now.duration_since(t0).as_secs_f64();
        let done = p.step.saturating_sub(k0);
        if secs <= 0.0 || done == 0 {
            return (None, None);
        }
        let rate = done as f64 / secs;
        let frac = p.step as f64 / p.total.max(1) as f64;
        let meaningful = frac >= 0.05 || now.duration_since(self.start) >= Duration::from_secs(3);
        let eta = meaningful.then(|| p.total.saturating_sub(p.step) as f64 / rate);
        (Some(rate), eta)
    }

    fn line(&self, p: &Progress, now: Instant) -> String {
        let pct = 100.0 * p.step as f64 / p.total.max(1) as f64;
        let (rate, eta) = self.rate_eta(p, now);
        let mut s = format!(
            "progress: {}: step {}/{} ({pct:.0}%), t = {:.3e} {}",
            self.name, p.step, p.total, p.time, p.time_units
        );
        if let Some(r) = rate {
            let _ = write!(s, ", {} steps/s", sig3(r));
        }
        if let Some(e) = eta {
            let _ = write!(s, ", ETA {}", human_secs(e));
        }
        s
    }

    /// Takes one report from the driver.
    pub(crate) fn update(&mut self, p: Progress) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let now = Instant::now();
        if self.first.is_none() {
            self.first = Some((p.step, now));
        }
        if self.verbosity == Verbosity::Verbose && p.frames > self.frames {
            let msg = format!(
                "frame {} written: step {}, t = {:.6e} {}",
                p.frames - 1,
                p.step,
                p.time,
                p.time_units
            );
            match &self.bar {
                Some(b) => b.println(msg),
                None => errln!("{msg}"),
            }
        }
        self.frames = p.frames;
        if let Some(b) = &self.bar {
            b.set_position(p.step);
            let (rate, eta) = self.rate_eta(&p, now);
            let mut msg = String::new();
            if let Some(r) = rate {
                let _ = write!(msg, ", {} steps/s", sig3(r));
            }
            if let Some(e) = eta {
                let _ = write!(msg, ", ETA {}", human_secs(e));
            }
            b.set_message(msg);
            return;
        }
        let due = match self.last_line {
            None => true,
            Some((t, k)) => {
                let tenth = p.total.div_ceil(10).max(1);
                now.duration_since(t) >= LINE_EVERY
                    || p.step / tenth > k / tenth
                    || p.step == p.total
            }
        };
        if due {
            errln!("{}", self.line(&p, now));
            self.last_line = Some((now, p.step));
        }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{human_secs, sig3};

    #[test]
    fn rates_and_etas_are_rounded() {
        assert_eq!(sig3(1234.5678), "1.23e3");
        assert_eq!(sig3(123.456), "123");
        assert_eq!(sig3(12.3456), "12.3");
        assert_eq!(sig3(0.123_456), "0.123");
        assert_eq!(human_secs(42.42), "42.4 s");
        assert_eq!(human_secs(210.0), "3.5 min");
    }
}
