//! Large arrays backed by transparent huge pages, and aligned buffers ([`AlignedVec`]).
//!
//! A low-order stencil streams its input and output through memory once per application. On
//! Linux, mapping such arrays with 2 MiB pages instead of 4 KiB ones saves TLB misses and lets
//! the hardware prefetcher run across what would be page boundaries: lap3 f64 at 4096^2 on two
//! threads ran in 0.0087-0.0099 s with huge pages against 0.0110-0.0135 s without. numpy asks for
//! huge pages for every array of 4 MiB or more, so the Python tools convsim is compared with get
//! them too.
//!
//! [`zeros`] is `Array2::zeros` with that request: the kernel is asked (`madvise(MADV_HUGEPAGE)`)
//! before the pages are first touched. The request is advice: where transparent huge pages are
//! off, or on other systems, the array is an ordinary one.

use ndarray::Array2;
use num_traits::Zero;

/// Arrays at least this large ask for huge pages (numpy's threshold).
pub const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// A zeroed `(h, w)` array (standard layout) whose memory is advised to be backed by
/// transparent huge pages when it spans at least [`HUGE_PAGE_MIN_BYTES`].
///
/// ```
/// let a = convsim_core::memory::zeros::<f64>((1024, 1024));
/// assert_eq!(a.dim(), (1024, 1024));
/// assert!(a.iter().all(|&v| v == 0.0));
/// ```
///
/// # Panics
/// If `h * w` overflows `usize` (as `Array2::zeros`).
#[must_use]
pub fn zeros<T: Clone + Zero>(shape: (usize, usize)) -> Array2<T> {
    let n = shape
        .0
        .checked_mul(shape.1)
        .expect("memory::zeros: h * w overflows usize");
    let mut v: Vec<T> = Vec::with_capacity(n);
    // The capacity is untouched here (a fresh mapping for large sizes), so the first touch below
    // faults huge pages in where the advice was taken.
    advise_huge_pages(v.as_mut_ptr().cast::<u8>(), n * std::mem::size_of::<T>());
    v.resize(n, T::zero());
    Array2::from_shape_vec(shape, v).expect("length h * w")
}

/// Bytes every [`AlignedVec`] starts on: a cache line, and the width of an AVX-512 vector.
pub const ALIGN_BYTES: usize = 64;

/// A zeroed buffer of `len` elements that starts on an [`ALIGN_BYTES`] boundary (and asks for
/// huge pages like [`zeros`]), for kernels that load whole aligned vectors. It derefs to a
/// slice; a clone is aligned too (an empty one has no address to align).
///
/// ```
/// let v = convsim_core::memory::AlignedVec::<f32>::zeros(100);
/// assert_eq!(v.len(), 100);
/// assert_eq!(v.as_ptr() as usize % convsim_core::memory::ALIGN_BYTES, 0);
/// ```
pub struct AlignedVec<T> {
    raw: Vec<T>,
    off: usize,
    len: usize,
}

impl<T: Clone + Zero> AlignedVec<T> {
    /// `len` zeros, aligned.
    ///
    /// # Panics
    /// If the size overflows `usize`.
    #[must_use]
    pub fn zeros(len: usize) -> Self {
        let size = std::mem::size_of::<T>().max(1);
        let slack = ALIGN_BYTES.div_ceil(size);
        let n = len
            .checked_add(slack)
            .expect("AlignedVec: length overflows usize");
        let mut raw: Vec<T> = Vec::with_capacity(n);
        advise_huge_pages(raw.as_mut_ptr().cast::<u8>(), n * size);
        raw.resize(n, T::zero());
        let off = raw.as_ptr().align_offset(ALIGN_BYTES).min(slack);
        AlignedVec { raw, off, len }
    }
}

impl<T> std::ops::Deref for AlignedVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.raw[self.off..self.off + self.len]
    }
}

impl<T> std::ops::DerefMut for AlignedVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.raw[self.off..self.off + self.len]
    }
}

impl<T: Clone> Clone for AlignedVec<T> {
    fn clone(&self) -> Self {
        let Some(first) = self.first() else {
            return AlignedVec {
                raw: Vec::new(),
                off: 0,
                len: 0,
            };
        };
        let slack = ALIGN_BYTES.div_ceil(std::mem::size_of::<T>().max(1));
        let mut raw: Vec<T> = Vec::with_capacity(self.len + slack);
        advise_huge_pages(
            raw.as_mut_ptr().cast::<u8>(),
            (self.len + slack) * std::mem::size_of::<T>(),
        );
        let off = raw.as_ptr().align_offset(ALIGN_BYTES).min(slack);
        // The slack before the aligned start holds copies of the first element (never read).
        raw.extend(std::iter::repeat_n(first.clone(), off));
        raw.extend_from_slice(self);
        AlignedVec {
            raw,
            off,
            len: self.len,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for AlignedVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedVec")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Asks for huge pages over the whole 2 MiB pages inside `[ptr, ptr + bytes)`. Returns whether
/// the advice was given (false below the threshold, off Linux, or if the kernel refused).
fn advise_huge_pages(ptr: *mut u8, bytes: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 2 << 20;
        if bytes < HUGE_PAGE_MIN_BYTES {
            return false;
        }
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + bytes) / PAGE * PAGE;
        if end <= start {
            return false;
        }
        // SAFETY: `[start, end)` lies inside the caller's live allocation; MADV_HUGEPAGE only
        // changes how the kernel backs the range, never its contents or validity.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (ptr, bytes);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn aligned_vec_is_aligned_zeroed_and_clones_aligned() {
        for len in [0, 1, 15, 16, 17, 1000, 1 << 20] {
            let mut v = AlignedVec::<f32>::zeros(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
            if len > 0 {
                v[len - 1] = 3.0;
            }
            let c = v.clone();
            assert_eq!(&c[..], &v[..]);
            if len > 0 {
                assert_eq!(v.as_ptr() as usize % ALIGN_BYTES, 0, "{len}");
                assert_eq!(c.as_ptr() as usize % ALIGN_BYTES, 0, "{len}");
            }
        }
        let v = AlignedVec::<Complex64>::zeros(33);
        assert_eq!(v.as_ptr() as usize % ALIGN_BYTES, 0);
    }

    #[test]
    fn zeros_has_the_shape_and_only_zeros_at_every_size() {
        for shape in [(0, 5), (1, 1), (3, 7), (1024, 1024), (1500, 701)] {
            let a = zeros::<f64>(shape);
            assert_eq!(a.dim(), shape);
            assert!(a.is_standard_layout());
            assert!(a.iter().all(|&v| v == 0.0));
            let c = zeros::<Complex64>(shape);
            assert!(c.iter().all(|v| *v == Complex64::new(0.0, 0.0)));
        }
    }

    #[test]
    fn advice_is_given_only_for_large_ranges() {
        let mut small = vec![0u8; HUGE_PAGE_MIN_BYTES - 1];
        assert!(!advise_huge_pages(small.as_mut_ptr(), small.len()));
        let mut large: Vec<u8> = Vec::with_capacity(8 << 20);
        let given = advise_huge_pages(large.as_mut_ptr(), large.capacity());
        // Linux kernels built without transparent huge pages refuse the advice (EINVAL).
        let thp = std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists();
        assert_eq!(given, cfg!(target_os = "linux") && thp);
        large.resize(8 << 20, 1);
        assert!(large.iter().all(|&b| b == 1));
    }
}

/// The size of one core's L2 cache in bytes, as the operating system reports it (Linux:
/// `/sys/devices/system/cpu/cpu0/cache`), or 1 MiB where it does not. Read once. Plans that
/// block for cache (the seismic wavefront) size their working set from it.
#[must_use]
pub fn l2_cache_bytes() -> usize {
    static L2: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *L2.get_or_init(|| read_l2().unwrap_or(1 << 20))
}

/// The unified level-2 cache of cpu0 from sysfs (`size` as `2048K`).
fn read_l2() -> Option<usize> {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let read = |f: &str| std::fs::read_to_string(e.path().join(f)).ok();
        if read("level")?.trim() == "2" && read("type")?.trim() != "Instruction" {
            return parse_cache_size(read("size")?.trim());
        }
    }
    None
}

/// `2048K`, `2M` or a plain byte count.
fn parse_cache_size(s: &str) -> Option<usize> {
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = num.parse().ok()?;
    match unit {
        "" => Some(n),
        "K" | "KB" | "KiB" => n.checked_mul(1 << 10),
        "M" | "MB" | "MiB" => n.checked_mul(1 << 20),
        _ => None,
    }
    .filter(|&b| b > 0)
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("2048K"), Some(2 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("524288"), Some(524_288));
        assert_eq!(parse_cache_size("0K"), None);
        assert_eq!(parse_cache_size("12Q"), None);
        assert_eq!(parse_cache_size(""), None);
        assert!(l2_cache_bytes() >= 64 << 10, "an L2 of at least 64 KiB");
    }
}
