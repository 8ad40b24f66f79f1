//! The output folder: convsim deletes or overwrites only files it wrote itself.
//!
//! Every file convsim writes into an output folder (run file, checkpoint and its temporary,
//! pictures, training results) is first recorded in the folder's manifest [`MANIFEST`], one
//! name per line, the way git only cleans files it tracks and cargo only removes what it built.
//! `--force` removes the recorded files alone; a PNG, GIF or anything else the user put in the
//! folder is never deleted or overwritten (a run whose pictures would overwrite such a file is
//! refused before it computes). Files written by convsim versions before the manifest are
//! recognised by their HDF5 root attribute `convsim_file` (run and checkpoint files only).
//!
//! The manifest is also the folder's lock: [`OutputDir::open`] holds an exclusive `flock` on it
//! for as long as the value lives, so a second convsim process writing into the same folder
//! (with or without `--force`) is refused at once instead of removing the files the first one
//! is writing. Temporary files of a killed process (`checkpoint.h5.tmp-<pid>`,
//! `run.h5.new-<pid>`) are recorded too and removed by the next process that opens the folder.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use crate::config::Ctx;
use crate::error::{Result, ScenarioError};

/// Name of the manifest in an output folder.
pub const MANIFEST: &str = ".convsim-outputs";

/// Largest manifest read (a run writes a few dozen names).
const MAX_MANIFEST: u64 = 16 << 20;

const HEADER: &str = "# Files convsim wrote in this folder, one per line (a line -NAME unlists NAME). convsim --force \
                      removes only these; other files are never touched. The file is also the folder's lock while \
                      convsim runs.\n";

/// Checks that `name` is a plain file-name component (it names an output folder): not empty,
/// not `.` or `..`, without `/`, `\` or control characters (NUL included), at most 255 bytes.
///
/// # Errors
/// What is wrong, as a phrase.
pub fn check_file_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("{name} names a folder relative to the current one"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == '\\' || c.is_control())
    {
        return Err(format!("contains {c:?}"));
    }
    if name.len() > 255 {
        return Err(format!("{} bytes long", name.len()));
    }
    Ok(())
}

/// The run name from `run.name` or the file stem: a plain file-name component, since it names
/// the output folder `runs/<name>/` (see [`check_file_name`]).
pub(crate) fn run_name(
    ctx: &Ctx<'_>,
    given: Option<&str>,
    path: &Path,
    fallback: &str,
) -> Result<String> {
    let (name, shown) = if let Some(n) = given {
        (n.to_string(), format!("{n:?}"))
    } else {
        let stem = path
            .file_stem()
            .map_or_else(|| fallback.into(), |s| s.to_string_lossy().into_owned());
        let shown = format!("{stem:?} (the file name; run.name not given)");
        (stem, shown)
    };
    check_file_name(&name).map_err(|why| {
        ctx.invalid(
            "run.name",
            shown,
            format!("{why}; allowed: a plain file name (it names the output folder runs/<name>/): not empty, not . or .., without / \\ or control characters, at most 255 bytes"),
        )
    })?;
    Ok(name)
}

/// A name the manifest lists: a plain file name, or one inside the folder of a distributed
/// run's tile files (`tiles/rank<k>.h5`, [`convsim_io::TILES_DIR`]).
fn check_listed_name(name: &str) -> bool {
    match name.split_once('/') {
        Some((dir, file)) => dir == convsim_io::TILES_DIR && check_file_name(file).is_ok(),
        None => check_file_name(name).is_ok(),
    }
}

/// Temporary names convsim writes beside a final file, with the writer's process id.
fn is_temporary(name: &str) -> bool {
    let pid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let temp = |prefix: &str| name.strip_prefix(prefix).is_some_and(pid);
    let tile = || {
        name.strip_prefix(convsim_io::TILES_DIR)
            .and_then(|n| n.strip_prefix('/'))
            .and_then(|n| n.rsplit_once(".h5.new-"))
            .is_some_and(|(_, p)| pid(p))
    };
    temp("checkpoint.h5.tmp-") || temp("run.h5.new-") || tile()
}

/// An output folder opened by this process: its manifest is locked until the value is dropped.
#[derive(Debug)]
pub struct OutputDir {
    dir: PathBuf,
    manifest: File,
    listed: BTreeSet<String>,
}

impl OutputDir {
    /// Creates `dir` if needed, opens its manifest (created empty) and locks it, then removes
    /// the temporary files a killed process left (they are in the manifest).
    ///
    /// # Errors
    /// [`ScenarioError::OutputNotWritable`] if the folder cannot be created or written, or if
    /// another process holds its lock.
    pub fn open(dir: &Path) -> Result<OutputDir> {
        let not_writable = |reason: String| ScenarioError::OutputNotWritable {
            dir: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| not_writable(e.to_string()))?;
        let path = dir.join(MANIFEST);
        let manifest = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| not_writable(format!("cannot open {}: {e}", path.display())))?;
        match manifest.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ScenarioError::OutputBusy {
                    dir: dir.display().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(not_writable(format!("cannot lock {}: {e}", path.display())));
            }
        }
        if !manifest.metadata().is_ok_and(|m| m.is_file()) {
            return Err(not_writable(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let mut bytes = Vec::new();
        // Bounded (names are short); a manifest that is not text (damaged) lists nothing, so
        // nothing is then removed.
        let _ = (&manifest).take(MAX_MANIFEST).read_to_end(&mut bytes);
        let text = String::from_utf8(bytes).unwrap_or_default();
        let mut listed = BTreeSet::new();
        // Only whole lines: each is written with its newline in one write, so a last line
        // without one is a write cut short by a kill (a partial name could be a user's file).
        let whole = text.rsplit_once('\n').map_or("", |(w, _)| w);
        for l in whole.lines().filter(|l| !l.starts_with('#')) {
            if let Some(gone) = l.strip_prefix('-') {
                listed.remove(gone);
            } else if check_listed_name(l) {
                listed.insert(l.to_string());
            }
        }
        let mut out = OutputDir {
            dir: dir.to_path_buf(),
            manifest,
            listed,
        };
        let stale: Vec<String> = out
            .listed
            .iter()
            .filter(|n| is_temporary(n))
            .cloned()
            .collect();
        for name in &stale {
            out.remove(name)?;
        }
        Ok(out)
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `dir/name`.
    #[must_use]
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `true` if convsim wrote `name`: it is in the manifest, or it is an HDF5 run or
    /// checkpoint file of an earlier version (root attribute `convsim_file`).
    #[must_use]
    pub fn is_ours(&self, name: &str) -> bool {
        self.listed.contains(name)
            || (Path::new(name).extension().is_some_and(|x| x == "h5")
                && convsim_io::file_kind(self.dir.join(name)).is_ok_and(|k| k.is_some()))
    }

    /// Checks that convsim may write `name`: it does not exist, or convsim wrote it.
    ///
    /// # Errors
    /// [`ScenarioError::OutputForeign`] naming the file.
    pub fn check_writable(&self, name: &str) -> Result<()> {
        let p = self.dir.join(name);
        if p.symlink_metadata().is_ok() && !self.is_ours(name) {
            return Err(ScenarioError::OutputForeign {
                file: p.display().to_string(),
            });
        }
        Ok(())
    }

    /// Records `name` as written by convsim, before it is created (so a kill right after
    /// creating it still leaves it recorded).
    ///
    /// # Errors
    /// [`ScenarioError::OutputNotWritable`] if the manifest cannot be written.
    pub fn record(&mut self, name: &str) -> Result<()> {
        if self.listed.contains(name) {
            return Ok(());
        }
        self.listed.insert(name.to_string());
        let line = format!("{name}\n");
        let wrote = if self.manifest.metadata().is_ok_and(|m| m.len() == 0) {
            self.manifest
                .write_all(format!("{HEADER}{line}").as_bytes())
        } else {
            self.manifest
                .seek(std::io::SeekFrom::End(0))
                .and_then(|_| self.manifest.write_all(line.as_bytes()))
        };
        wrote.map_err(|e| self.manifest_error(&e))
    }

    /// Checks then records `name` (see [`OutputDir::check_writable`], [`OutputDir::record`]);
    /// returns its path.
    ///
    /// # Errors
    /// As those two.
    pub fn claim(&mut self, name: &str) -> Result<PathBuf> {
        self.check_writable(name)?;
        self.record(name)?;
        Ok(self.dir.join(name))
    }

    /// Removes `name` if convsim wrote it (and it exists), and drops it from the manifest.
    ///
    /// # Errors
    /// [`ScenarioError::OutputNotWritable`] if it cannot be removed.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        if !self.is_ours(name) {
            return Ok(());
        }
        let p = self.dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ScenarioError::OutputNotWritable {
                    dir: self.dir.display().to_string(),
                    reason: format!("cannot remove {}: {e}", p.display()),
                });
            }
        }
        self.forget(name)
    }

    /// Removes every file convsim wrote here for which `which` holds, except `keep`.
    ///
    /// # Errors
    /// As [`OutputDir::remove`].
    pub fn remove_ours(&mut self, which: impl Fn(&str) -> bool, keep: &[&str]) -> Result<()> {
        let names: Vec<String> = self
            .listed
            .iter()
            .filter(|n| which(n) && !keep.contains(&n.as_str()))
            .cloned()
            .collect();
        for n in names {
            self.remove(&n)?;
        }
        Ok(())
    }

    /// Renames `from` (ours) to `to` in the folder. With `replace`, an existing `to` is replaced
    /// atomically (it must be ours); without, an existing `to` is an error and stays intact.
    ///
    /// # Errors
    /// [`ScenarioError::OutputForeign`], [`ScenarioError::OutputNotWritable`].
    pub fn rename(&mut self, from: &str, to: &str, replace: bool) -> Result<()> {
        let (a, b) = (self.dir.join(from), self.dir.join(to));
        let dir = self.dir.display().to_string();
        let fail = |e: std::io::Error| ScenarioError::OutputNotWritable {
            dir: dir.clone(),
            reason: format!("cannot rename {} to {}: {e}", a.display(), b.display()),
        };
        if replace {
            self.check_writable(to)?;
            self.record(to)?;
            std::fs::rename(&a, &b).map_err(fail)?;
        } else {
            // A hard link fails if `to` exists (created meanwhile by someone else): no-replace.
            std::fs::hard_link(&a, &b).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    ScenarioError::OutputExists {
                        dir: dir.clone(),
                        what: b.display().to_string(),
                    }
                } else {
                    fail(e)
                }
            })?;
            self.record(to)?;
            std::fs::remove_file(&a).map_err(fail)?;
        }
        self.forget(from)
    }

    /// Drops `name` from the manifest (the file was removed or renamed).
    fn forget(&mut self, name: &str) -> Result<()> {
        if !self.listed.remove(name) {
            return Ok(());
        }
        // Appended, never rewritten: a kill mid-write leaves at worst a partial line naming no
        // file of ours, where a truncate-and-rewrite killed half-way unlisted every file and
        // made the next --force refuse them as foreign. The lock is on this file, so it cannot
        // be replaced by a rename either.
        let wrote = self
            .manifest
            .seek(std::io::SeekFrom::End(0))
            .and_then(|_| self.manifest.write_all(format!("-{name}\n").as_bytes()));
        wrote.map_err(|e| self.manifest_error(&e))
    }

    fn manifest_error(&self, e: &std::io::Error) -> ScenarioError {
        ScenarioError::OutputNotWritable {
            dir: self.dir.display().to_string(),
            reason: format!("cannot write {}: {e}", self.dir.join(MANIFEST).display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain_components() {
        for ok in ["run", "gaussian_periodic", "a.b", "été", "x y"] {
            assert!(check_file_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "/",
            "a\\b",
            "a\0b",
            "tab\there",
            &"x".repeat(256),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_recorded_files_are_removed_and_the_folder_is_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let mut out = OutputDir::open(&dir).unwrap();
        // A second opener (another process would hold another descriptor) is refused.
        let e = OutputDir::open(&dir).unwrap_err();
        assert!(matches!(e, ScenarioError::OutputBusy { .. }), "{e}");
        std::fs::write(dir.join("mine.png"), b"user").unwrap();
        let p = out.claim("u_first.png").unwrap();
        std::fs::write(&p, b"ours").unwrap();
        assert!(out.claim("mine.png").is_err());
        out.record("checkpoint.h5.tmp-123").unwrap();
        std::fs::write(dir.join("checkpoint.h5.tmp-123"), b"").unwrap();
        out.remove_ours(crate::pictures::is_picture, &[]).unwrap();
        assert!(!dir.join("u_first.png").exists());
        assert!(dir.join("mine.png").exists());
        drop(out);
        // The next opener removes the stale temporary and keeps the rest.
        let out = OutputDir::open(&dir).unwrap();
        assert!(!dir.join("checkpoint.h5.tmp-123").exists());
        assert!(dir.join("mine.png").exists());
        assert!(!out.is_ours("u_first.png") && !out.is_ours("mine.png"));
    }

    #[test]
    fn rename_without_replace_keeps_an_existing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut out = OutputDir::open(tmp.path()).unwrap();
        std::fs::write(out.claim("a.new-1").unwrap(), b"new").unwrap();
        std::fs::write(tmp.path().join("a"), b"user").unwrap();
        assert!(out.rename("a.new-1", "a", false).is_err());
        assert!(out.rename("a.new-1", "a", true).is_err());
        assert_eq!(std::fs::read(tmp.path().join("a")).unwrap(), b"user");
        assert!(!out.is_ours("a"));
        std::fs::remove_file(tmp.path().join("a")).unwrap();
        out.rename("a.new-1", "a", false).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("a")).unwrap(), b"new");
        assert!(out.is_ours("a") && !tmp.path().join("a.new-1").exists());
    }

    #[test]
    fn unlisting_appends_so_a_kill_mid_write_keeps_the_other_names() {
        let tmp = tempfile::tempdir().unwrap();
        let mut out = OutputDir::open(tmp.path()).unwrap();
        for n in ["run.h5", "run.xdmf", "checkpoint.h5"] {
            std::fs::write(out.claim(n).unwrap(), b"ours").unwrap();
        }
        out.remove("checkpoint.h5").unwrap();
        out.record("checkpoint.h5").unwrap(); // listed again after its removal
        out.remove("run.xdmf").unwrap();
        drop(out);
        let m = tmp.path().join(MANIFEST);
        let text = std::fs::read_to_string(&m).unwrap();
        assert!(text.ends_with("checkpoint.h5\n-run.xdmf\n"), "{text}");
        // Every prefix of the file is a state a kill can leave: each lists the names recorded
        // before it and not unlisted before it, and run.h5 in all of them.
        let body = text.split_once('\n').unwrap().1;
        for cut in 0..=body.len() {
            std::fs::write(&m, format!("{HEADER}{}", &body[..cut])).unwrap();
            let out = OutputDir::open(tmp.path()).unwrap();
            assert_eq!(out.is_ours("run.h5"), cut >= "run.h5\n".len(), "cut {cut}");
            assert!(!out.is_ours("run.h"), "a partial line lists nothing");
        }
        let out = OutputDir::open(tmp.path()).unwrap();
        assert!(out.is_ours("run.h5") && out.is_ours("checkpoint.h5") && !out.is_ours("run.xdmf"));
    }
}
