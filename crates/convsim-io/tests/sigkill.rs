//! A run killed with SIGKILL at any moment leaves a readable file holding every frame appended
//! before the kill. The writer runs in a child process (this test binary re-invoked with an
//! environment variable) that is killed after a chosen number of frames.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convsim_core::{Grid, Quantity};
use convsim_io::{RunFile, RunMeta, RunWriter};
use ndarray::Array2;

const CHILD_ENV: &str = "CONVSIM_IO_SIGKILL_CHILD";
const GRID: Grid = Grid {
    ny: 96,
    nx: 80,
    dy: 1.0,
    dx: 1.0,
    y0: 0.0,
    x0: 0.0,
};
/// Upper bound on the child's frames, so a child that is never killed still stops.
const MAX_FRAMES: usize = 5000;

fn frame(k: usize, field: usize) -> Array2<f64> {
    Array2::from_shape_fn((GRID.ny, GRID.nx), |(i, j)| {
        ((k * 7 + i * 3 + j + field) as f64 * 0.01).sin()
    })
}

/// The child: appends frames until killed, recording the count after each append returns.
#[test]
#[ignore = "helper: run as a child process by sigkill_leaves_every_appended_frame"]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = Path::new(&path);
    let progress = path.with_extension("progress");
    let mut w = RunWriter::create(path, &RunMeta::new("test", ""), &GRID).unwrap();
    w.add_field(&Quantity::new("a", "1", "field a", true))
        .unwrap();
    w.add_field(&Quantity::new("b", "1", "field b", true))
        .unwrap();
    w.add_diagnostic(&Quantity::new("k", "1", "frame index", false))
        .unwrap();
    for k in 0..MAX_FRAMES {
        let (a, b) = (frame(k, 0), frame(k, 1));
        w.append(
            k as u64 * 5,
            k as f64 * 0.5,
            &[("a", a.view()), ("b", b.view())],
            &[k as f64],
        )
        .unwrap();
        // Temp file + rename: the parent never reads a half-written count.
        let tmp = path.with_extension("progress.tmp");
        std::fs::write(&tmp, (k + 1).to_string()).unwrap();
        std::fs::rename(&tmp, &progress).unwrap();
    }
}

#[test]
fn sigkill_leaves_every_appended_frame() {
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Kill after few and after many frames, with different delays so the kill lands at
    // different points of an append (data, scales or flush).
    for (trial, (threshold, delay_us)) in [(2, 0), (15, 700), (40, 1900)].into_iter().enumerate() {
        let path = dir.path().join(format!("run{trial}.h5"));
        let progress = path.with_extension("progress");
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--ignored", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let count = |p: &Path| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
        };
        while count(&progress).unwrap_or(0) < threshold {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child made no progress"
            );
            assert!(child.try_wait().unwrap().is_none(), "child exited early");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(delay_us));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Every append that returned before the kill is in the file; the partial one may be.
        let appended = count(&progress).unwrap();
        assert!(appended >= threshold && appended < MAX_FRAMES);
        let r = RunFile::open(&path).unwrap_or_else(|e| panic!("trial {trial}: {e}"));
        let n = r.frames();
        assert!(
            n == appended || n == appended + 1,
            "trial {trial}: {n} frames, {appended} appended"
        );
        assert_eq!(
            r.steps().unwrap(),
            (0..n as u64).map(|k| k * 5).collect::<Vec<_>>()
        );
        assert_eq!(
            r.read_diagnostic("k").unwrap(),
            (0..n).map(|k| k as f64).collect::<Vec<_>>()
        );
        for k in 0..n {
            assert_eq!(
                r.read_frame("a", k).unwrap(),
                frame(k, 0),
                "trial {trial}, frame {k} of a"
            );
            assert_eq!(
                r.read_frame("b", k).unwrap(),
                frame(k, 1),
                "trial {trial}, frame {k} of b"
            );
        }
        // The file can be continued after the crash, as `convsim run --resume` does.
        drop(r);
        let mut w = RunWriter::resume(&path, (n as u64 - 1) * 5).unwrap();
        assert_eq!(w.frames(), n);
        let (a, b) = (frame(n, 0), frame(n, 1));
        w.append(
            n as u64 * 5,
            0.0,
            &[("a", a.view()), ("b", b.view())],
            &[n as f64],
        )
        .unwrap();
    }
}
