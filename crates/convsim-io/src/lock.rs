//! File locks that convsim holds itself, instead of libhdf5.
//!
//! libhdf5 (1.10+) locks each file it opens with `flock` (shared to read, exclusive to write)
//! on a descriptor it opens without `O_CLOEXEC`. A child process started by any thread of the
//! process while that descriptor is open inherits it, and with it the lock: after our `close`,
//! reopening the file fails with "unable to lock file, errno = 11" until the child exits.
//! Setting close-on-exec after `H5Fopen` returns ([`crate::ffi::close_on_exec`]) leaves a window
//! in which a concurrent spawn still inherits the descriptor (that race failed CI).
//!
//! So every file convsim opens has libhdf5's locking turned off, and convsim takes the same
//! `flock` on a descriptor of its own, which the standard library opens with `O_CLOEXEC`
//! atomically. An inherited libhdf5 descriptor then carries no lock. Other processes (h5py,
//! `ncdump`, another convsim run) still see the lock: `flock` locks on the same file conflict
//! across descriptors. Within the process one lock is shared by every open of the same file,
//! whatever kind it was first taken with, as libhdf5 itself shares one open file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::ops::Deref;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{IoError, Result};

/// Identity of a file: device and inode on Unix (a file renamed or linked keeps it); elsewhere
/// a hash of the canonical path.
type Key = (u64, u64);

/// The locks this process holds: their descriptor and the number of open handles using them.
/// An entry is removed, and its descriptor closed (which releases the lock), under the mutex,
/// so a concurrent open never meets a lock of its own process that is about to go away.
static HELD: Mutex<Option<HashMap<Key, (File, usize)>>> = Mutex::new(None);

/// How long a contended lock is retried before [`IoError::Locked`]. Between `fork` and `exec`
/// a child briefly holds every descriptor of the process, close-on-exec or not, so a lock we
/// just released can look taken for a moment while another thread spawns a process.
const CONTENTION_WAIT: Duration = Duration::from_millis(500);

/// Whether the lock excludes readers (a writer) or only writers (a reader).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    Read,
    Write,
}

/// One handle on a lock of [`HELD`]; the lock is released when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    key: Key,
}

impl FileLock {
    /// Locks `lockfile` (already open, ours, close-on-exec) of the file at `path`.
    fn acquire(path: &Path, lockfile: File, access: Access) -> Result<Self> {
        let fs_err = |source| IoError::Fs {
            path: path.to_path_buf(),
            context: "cannot lock the file".into(),
            source,
        };
        #[cfg(unix)]
        let key = {
            use std::os::unix::fs::MetadataExt;
            let m = lockfile.metadata().map_err(fs_err)?;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::canonicalize(path).map_err(fs_err)?.hash(&mut h);
            (0, h.finish())
        };

        let deadline = Instant::now() + CONTENTION_WAIT;
        loop {
            let mut guard = HELD.lock().unwrap_or_else(PoisonError::into_inner);
            let held = guard.get_or_insert_with(HashMap::new);
            if let Some((_, users)) = held.get_mut(&key) {
                *users += 1;
                return Ok(Self { key });
            }
            let locked = match access {
                Access::Read => lockfile.try_lock_shared(),
                Access::Write => lockfile.try_lock(),
            };
            match locked {
                Ok(()) => {
                    held.insert(key, (lockfile, 1));
                    return Ok(Self { key });
                }
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(IoError::Locked {
                        path: path.to_path_buf(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(fs_err(e)),
            }
            drop(guard);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = held.as_mut()
            && let Some((_, users)) = held.get_mut(&self.key)
        {
            *users -= 1;
            if *users == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// An open HDF5 file and convsim's lock on it. The file is closed before the lock is released
/// (field order), so no other process opens a file this one is still flushing.
///
/// Holders that keep datasets of the file open must drop them first: declare the `H5File`
/// after them.
pub(crate) struct H5File {
    file: hdf5::File,
    _lock: FileLock,
}

impl H5File {
    /// Closes the file (and every handle into it), then releases the lock.
    pub(crate) fn close(self) -> hdf5::Result<()> {
        self.file.close()
    }
}

impl Deref for H5File {
    type Target = hdf5::File;
    fn deref(&self) -> &hdf5::File {
        &self.file
    }
}

impl std::fmt::Debug for H5File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.file.fmt(f)
    }
}

/// Opens an existing HDF5 file, read-only or read-write, under convsim's lock.
pub(crate) fn open(path: &Path, access: Access) -> Result<H5File> {
    let lockfile = File::open(path).map_err(|source| IoError::Fs {
        path: path.to_path_buf(),
        context: "cannot open the file".into(),
        source,
    })?;
    let lock = FileLock::acquire(path, lockfile, access)?;
    let mut options = hdf5::File::with_options();
    options.with_fapl(|fapl| fapl.file_locking(false));
    let opened = match access {
        Access::Read => options.open(path),
        Access::Write => options.open_rw(path),
    };
    let file = opened.map_err(|source| IoError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    crate::ffi::close_on_exec(file.id());
    Ok(H5File { file, _lock: lock })
}

/// Creates (truncating) an HDF5 file with the v1.8 format under convsim's exclusive lock.
///
/// The lock is taken before the truncation, so a file another process has open is refused
/// intact.
pub(crate) fn create(path: &Path) -> Result<H5File> {
    let context = || "cannot create the file (does the directory exist and is it writable?)";
    let lockfile = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| IoError::Fs {
            path: path.to_path_buf(),
            context: context().into(),
            source,
        })?;
    let lock = FileLock::acquire(path, lockfile, Access::Write)?;
    // v1.8 format: dense attribute storage for long scenario texts; superblock v2 carries no
    // "open for writing" flag, so a killed writer leaves a file others open without `h5clear`.
    let file = hdf5::File::with_options()
        .with_fapl(|fapl| fapl.libver_v18().file_locking(false))
        .create(path)
        .map_err(|source| IoError::Hdf5 {
            path: path.to_path_buf(),
            context: context().into(),
            source,
        })?;
    crate::ffi::close_on_exec(file.id());
    Ok(H5File { file, _lock: lock })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn hdf5_descriptor(file: &hdf5::File) -> libc::c_int {
        let mut handle: *mut std::os::raw::c_void = std::ptr::null_mut();
        hdf5::sync::sync(|| {
            // SAFETY: `file` is open; the sec2 driver returns a pointer to its descriptor.
            let code = unsafe {
                hdf5_sys::h5f::H5Fget_vfd_handle(
                    file.id(),
                    hdf5_sys::h5p::H5P_DEFAULT,
                    &raw mut handle,
                )
            };
            assert!(code >= 0 && !handle.is_null());
            // SAFETY: checked non-null above; valid while the file is open.
            unsafe { *handle.cast::<libc::c_int>() }
        })
    }

    /// The race that failed CI, made deterministic: a child spawned by another thread between
    /// libhdf5's `open` and our close-on-exec inherits libhdf5's descriptor. Here the flag is
    /// cleared by hand before the spawn. The child must not keep the file locked.
    #[test]
    fn a_child_that_inherits_the_hdf5_descriptor_holds_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.h5");
        drop(create(&path).unwrap());
        let mut children = Vec::new();
        for access in [Access::Write, Access::Read] {
            let f = open(&path, access).unwrap();
            let fd = hdf5_descriptor(&f);
            // SAFETY: `fd` is libhdf5's open descriptor of `f`; only its flags change.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                assert!(
                    flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == 0
                );
            }
            children.push(
                std::process::Command::new("sleep")
                    .arg("30")
                    .spawn()
                    .unwrap(),
            );
            drop(f);
        }
        let reopened = open(&path, Access::Write);
        for c in &mut children {
            c.kill().unwrap();
            let _ = c.wait();
        }
        reopened.unwrap();
    }

    /// Another holder of the file (here a second descriptor, as another process would have)
    /// blocks a writer with [`IoError::Locked`], and a reader only if it writes; the same
    /// process opens a file twice without conflict.
    #[test]
    fn locks_conflict_across_descriptors_and_are_shared_within_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock.h5");
        drop(create(&path).unwrap());

        let other = File::open(&path).unwrap();
        other.lock_shared().unwrap();
        assert!(open(&path, Access::Read).is_ok());
        let e = open(&path, Access::Write).unwrap_err();
        assert!(matches!(e, IoError::Locked { .. }), "{e}");
        let e = create(&path).unwrap_err();
        assert!(matches!(e, IoError::Locked { .. }), "{e}");
        assert!(e.to_string().contains("lock.h5"), "{e}");
        other.unlock().unwrap();
        other.lock().unwrap();
        assert!(matches!(
            open(&path, Access::Read),
            Err(IoError::Locked { .. })
        ));
        other.unlock().unwrap();

        let writer = open(&path, Access::Write).unwrap();
        let reader = open(&path, Access::Read).unwrap();
        // Held while either handle lives ...
        drop(writer);
        assert!(other.try_lock_shared().is_err());
        drop(reader);
        // ... and released with the last one.
        // (Retried: a child another test is spawning may hold our descriptor until its `exec`.)
        let deadline = Instant::now() + CONTENTION_WAIT;
        while other.try_lock().is_err() {
            assert!(
                Instant::now() < deadline,
                "the lock outlived its last handle"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
