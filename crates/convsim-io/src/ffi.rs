//! The only `unsafe` code of convsim-io: the HDF5 dimension-scale (H5DS, high-level library)
//! calls the safe `hdf5` crate does not wrap, and fixed-length string attributes.
//!
//! Why fixed-length strings: netCDF-C (and so ParaView and `ncdump`) maps fixed-length HDF5
//! string attributes to `NC_CHAR`, the type CF tools expect for `units`, `long_name`, `axis`;
//! variable-length strings become `NC_STRING`, which several CF readers refuse for `units`.
//!
//! It also marks file descriptors close-on-exec ([`close_on_exec`]).
//!
//! Every call runs inside [`hdf5::sync::sync`], the global lock the `hdf5` crate uses around
//! the (not thread-safe) C library, and takes ids that are kept alive by the caller's `hdf5`
//! handles for the duration of the call.

use std::ffi::CString;
use std::os::raw::{c_char, c_uint, c_void};

use crate::error::FfiError;
use hdf5_sys::h5::herr_t;
use hdf5_sys::h5a::{
    H5Aclose, H5Acreate2, H5Adelete, H5Aexists, H5Aget_type, H5Aopen, H5Aread, H5Awrite,
};
use hdf5_sys::h5d::{H5Dclose, H5Dcreate2};
use hdf5_sys::h5f::{H5F_libver_t, H5Fget_vfd_handle};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5p::H5Pset_virtual;
use hdf5_sys::h5s::{
    H5S_UNLIMITED, H5S_class_t, H5S_seloper_t, H5Sclose, H5Screate, H5Screate_simple,
    H5Sselect_hyperslab,
};
use hdf5_sys::h5t::{
    H5T_C_S1, H5T_class_t, H5T_cset_t, H5T_str_t, H5Tclose, H5Tcopy, H5Tget_class, H5Tget_cset,
    H5Tget_size, H5Tis_variable_str, H5Tset_cset, H5Tset_size, H5Tset_strpad,
};

// The dimension-scale API of libhdf5_hl (linked by hdf5-sys with its `hl` feature). Signatures
// from H5DSpublic.h (HDF5 1.10).
unsafe extern "C" {
    fn H5DSset_scale(dsid: hid_t, dimname: *const c_char) -> herr_t;
    fn H5DSattach_scale(did: hid_t, dsid: hid_t, idx: c_uint) -> herr_t;
    fn H5DSset_label(did: hid_t, idx: c_uint, label: *const c_char) -> herr_t;
}

// Since HDF5 1.10.2 (H5Fpublic.h); `hdf5-sys` does not declare it.
unsafe extern "C" {
    fn H5Fset_libver_bounds(file_id: hid_t, low: H5F_libver_t, high: H5F_libver_t) -> herr_t;
}

/// Lets the open file `file` (created with the v1.8 bounds) hold v1.10 objects, such as a
/// virtual dataset; objects written so far keep their format.
pub(crate) fn allow_v110(file: hid_t) -> Result<()> {
    hdf5::sync::sync(|| {
        check(
            // SAFETY: `file` is a valid file id held open by the caller's `hdf5::File`; the
            // bounds are valid enum values with low <= high.
            unsafe {
                H5Fset_libver_bounds(
                    file,
                    H5F_libver_t::H5F_LIBVER_V18,
                    H5F_libver_t::H5F_LIBVER_V110,
                )
            },
            "H5Fset_libver_bounds",
        )
    })
}

type Result<T, E = FfiError> = std::result::Result<T, E>;

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| FfiError::Nul { text: s.into() })
}

/// `Ok` for a non-negative status of the C function `call`.
fn check(code: herr_t, call: &'static str) -> Result<()> {
    if code < 0 {
        Err(FfiError::Call {
            call,
            code: code.into(),
        })
    } else {
        Ok(())
    }
}

/// `Ok(id)` for a valid id returned by `call` (opening, creating or reading attribute `name`).
fn attr_id(id: hid_t, action: &'static str, name: &str, call: &'static str) -> Result<hid_t> {
    if id < 0 {
        Err(FfiError::Attribute {
            action,
            name: name.into(),
            call,
            code: id,
        })
    } else {
        Ok(id)
    }
}

/// Opens attribute `name` (`cname`) of object `loc`; the caller closes the id.
///
/// # Safety
/// `loc` must be a valid object id, inside [`hdf5::sync::sync`].
unsafe fn open_attr(loc: hid_t, cname: &CString, name: &str) -> Result<hid_t> {
    // SAFETY: `loc` is valid (the caller's contract), `cname` is NUL-terminated and lives for
    // the call.
    let aid = unsafe { H5Aopen(loc, cname.as_ptr(), H5P_DEFAULT) };
    attr_id(aid, "open", name, "H5Aopen")
}

/// The error of a failed `H5Aread` of attribute `name`.
fn read_failed(name: &str, code: herr_t) -> FfiError {
    FfiError::Attribute {
        action: "read",
        name: name.into(),
        call: "H5Aread",
        code: code.into(),
    }
}

/// Marks the descriptor of open file `file` close-on-exec (no-op off Unix).
///
/// Why: libhdf5 opens files without `O_CLOEXEC`, so a child process started while the file is
/// open (a Python check, a viewer) would keep a descriptor of it. The lock that once came with
/// it is now convsim's own ([`crate::lock`]); this only keeps the child's descriptor table
/// clean. Best effort: a file whose driver has no POSIX descriptor is left as it is.
pub(crate) fn close_on_exec(file: hid_t) {
    #[cfg(unix)]
    hdf5::sync::sync(|| {
        let mut handle: *mut c_void = std::ptr::null_mut();
        // SAFETY: `file` is a valid open file id held by the caller's `File`; `handle` is a
        // valid out-pointer. The default (sec2) driver returns a pointer to its `int` descriptor,
        // valid while the file is open; other drivers fail or return null, and we skip them.
        unsafe {
            if H5Fget_vfd_handle(file, H5P_DEFAULT, &raw mut handle) < 0 || handle.is_null() {
                return;
            }
            let fd = *handle.cast::<libc::c_int>();
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    });
}

/// Makes dataset `dsid` a dimension scale named `dimname` (the netCDF dimension name).
pub(crate) fn set_scale(dsid: hid_t, dimname: &str) -> Result<()> {
    let name = cstring(dimname)?;
    hdf5::sync::sync(|| {
        // SAFETY: `dsid` is a valid open dataset id (held by the caller's `Dataset`), `name`
        // is a NUL-terminated string alive for the call.
        check(
            unsafe { H5DSset_scale(dsid, name.as_ptr()) },
            "H5DSset_scale",
        )
    })
}

/// Attaches scale `dsid` to dimension `idx` of dataset `did` and labels that dimension.
pub(crate) fn attach_scale(did: hid_t, dsid: hid_t, idx: usize, label: &str) -> Result<()> {
    let label = cstring(label)?;
    let idx = c_uint::try_from(idx).map_err(|_| FfiError::Index { index: idx })?;
    hdf5::sync::sync(|| {
        check(
            // SAFETY: both ids are valid open datasets held by the caller; `idx` is below the
            // rank of `did` (checked by HDF5, which returns an error otherwise).
            unsafe { H5DSattach_scale(did, dsid, idx) },
            "H5DSattach_scale",
        )?;
        check(
            // SAFETY: as above; `label` is a NUL-terminated `CString` that outlives the call.
            unsafe { H5DSset_label(did, idx, label.as_ptr()) },
            "H5DSset_label",
        )
    })
}

/// Writes (replacing any previous value) a scalar fixed-length UTF-8 string attribute, at
/// least `min_size` bytes long (NUL-padded).
///
/// An existing fixed-length string attribute at least as long as `value` is rewritten in
/// place: the object header neither moves nor grows, so the file allocates nothing (what
/// keeps a run file readable after a kill, see `RunWriter::create_planned`).
pub(crate) fn write_str_attr(loc: hid_t, name: &str, value: &str, min_size: usize) -> Result<()> {
    let cname = cstring(name)?;
    // HDF5 refuses zero-sized string types; an empty value is stored as one NUL byte.
    let mut bytes = value.as_bytes().to_vec();
    if bytes.contains(&0) {
        return Err(FfiError::NulValue { name: name.into() });
    }
    hdf5::sync::sync(|| {
        // SAFETY: `loc` is a valid object id held by the caller. Every id created here is
        // closed on every path below; `bytes` is resized to exactly the size of the string
        // type it is written with.
        unsafe {
            let mut size = bytes.len().max(min_size).max(1);
            if H5Aexists(loc, cname.as_ptr()) > 0 {
                let aid = open_attr(loc, &cname, name)?;
                let ftype = H5Aget_type(aid);
                let room = if H5Tget_class(ftype) == H5T_class_t::H5T_STRING
                    && H5Tis_variable_str(ftype) == 0
                {
                    H5Tget_size(ftype)
                } else {
                    0
                };
                let rewritten = if room >= bytes.len().max(1) {
                    bytes.resize(room, 0);
                    Some(check(
                        H5Awrite(aid, ftype, bytes.as_ptr().cast::<c_void>()),
                        "H5Awrite",
                    ))
                } else {
                    None
                };
                H5Tclose(ftype);
                H5Aclose(aid);
                if let Some(r) = rewritten {
                    return r;
                }
                check(H5Adelete(loc, cname.as_ptr()), "H5Adelete")?;
            }
            size = size.max(bytes.len());
            bytes.resize(size, 0);
            let tid = H5Tcopy(*H5T_C_S1);
            if tid < 0 {
                return Err(FfiError::Call {
                    call: "H5Tcopy",
                    code: tid,
                });
            }
            let mut result = check(H5Tset_size(tid, size), "H5Tset_size")
                .and_then(|()| check(H5Tset_cset(tid, H5T_cset_t::H5T_CSET_UTF8), "H5Tset_cset"))
                .and_then(|()| {
                    check(
                        H5Tset_strpad(tid, H5T_str_t::H5T_STR_NULLPAD),
                        "H5Tset_strpad",
                    )
                });
            if result.is_ok() {
                let sid = H5Screate(H5S_class_t::H5S_SCALAR);
                let aid = H5Acreate2(loc, cname.as_ptr(), tid, sid, H5P_DEFAULT, H5P_DEFAULT);
                result = attr_id(aid, "create", name, "H5Acreate2").and_then(|aid| {
                    let r = check(
                        H5Awrite(aid, tid, bytes.as_ptr().cast::<c_void>()),
                        "H5Awrite",
                    );
                    H5Aclose(aid);
                    r
                });
                H5Sclose(sid);
            }
            H5Tclose(tid);
            result
        }
    })
}

/// Reads a scalar string attribute (fixed-length or variable-length); `Ok(None)` if absent or
/// not a string.
pub(crate) fn read_str_attr(loc: hid_t, name: &str) -> Result<Option<String>> {
    let cname = cstring(name)?;
    hdf5::sync::sync(|| {
        // SAFETY: `loc` is a valid object id held by the caller. Every id opened here is closed
        // on every path. For fixed-length strings the buffer has exactly the type's size; for
        // variable-length strings HDF5 writes one `char*` into `ptr`, which we copy and then
        // free with the library's allocator (`H5free_memory`).
        unsafe {
            if H5Aexists(loc, cname.as_ptr()) <= 0 {
                return Ok(None);
            }
            let aid = open_attr(loc, &cname, name)?;
            let ftype = H5Aget_type(aid);
            let out = if H5Tget_class(ftype) == H5T_class_t::H5T_STRING {
                let mtype = H5Tcopy(*H5T_C_S1);
                let cset = H5Tget_cset(ftype);
                H5Tset_cset(mtype, cset);
                let r = if H5Tis_variable_str(ftype) > 0 {
                    H5Tset_size(mtype, hdf5_sys::h5t::H5T_VARIABLE);
                    let mut ptr: *mut c_char = std::ptr::null_mut();
                    let code = H5Aread(aid, mtype, (&raw mut ptr).cast::<c_void>());
                    if code < 0 {
                        Err(read_failed(name, code))
                    } else if ptr.is_null() {
                        Ok(Some(String::new()))
                    } else {
                        let s = std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned();
                        hdf5_sys::h5::H5free_memory(ptr.cast::<c_void>());
                        Ok(Some(s))
                    }
                } else {
                    let size = H5Tget_size(ftype);
                    H5Tset_size(mtype, size);
                    H5Tset_strpad(mtype, H5T_str_t::H5T_STR_NULLPAD);
                    let mut buf = vec![0_u8; size];
                    let code = H5Aread(aid, mtype, buf.as_mut_ptr().cast::<c_void>());
                    if code < 0 {
                        Err(read_failed(name, code))
                    } else {
                        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                        buf.truncate(end);
                        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
                    }
                };
                H5Tclose(mtype);
                r
            } else {
                Ok(None)
            };
            H5Tclose(ftype);
            H5Aclose(aid);
            out
        }
    })
}

/// One tile of a virtual dataset: source file and dataset, first row and column, shape.
pub(crate) struct VirtualTile<'a> {
    pub file: &'a str,
    pub dataset: &'a str,
    pub start: [usize; 2],
    pub shape: [usize; 2],
}

/// A `(time, rows, columns)` dataspace of current extent `(0, dims)`, time unlimited, with
/// the hyperslab "every frame, rows `start[0]..+count[0]`, columns `start[1]..+count[1]`"
/// selected (a count of `H5S_UNLIMITED` along time).
fn tile_space(dims: [usize; 2], start: [usize; 2], count: [usize; 2]) -> Result<hid_t> {
    let h = |v: usize| v as u64;
    let cur = [0, h(dims[0]), h(dims[1])];
    let max = [H5S_UNLIMITED, h(dims[0]), h(dims[1])];
    // SAFETY: `cur` and `max` are arrays of rank 3, alive for the call.
    let space = unsafe { H5Screate_simple(3, cur.as_ptr(), max.as_ptr()) };
    if space < 0 {
        return Err(FfiError::Call {
            call: "H5Screate_simple",
            code: space,
        });
    }
    let first = [0, h(start[0]), h(start[1])];
    let counts = [H5S_UNLIMITED, h(count[0]), h(count[1])];
    let ones = [1u64; 3];
    // SAFETY: `space` is the valid dataspace just created; the four arrays have its rank.
    let code = unsafe {
        H5Sselect_hyperslab(
            space,
            H5S_seloper_t::H5S_SELECT_SET,
            first.as_ptr(),
            ones.as_ptr(),
            counts.as_ptr(),
            ones.as_ptr(),
        )
    };
    if code < 0 {
        // SAFETY: `space` is valid and closed once.
        unsafe { H5Sclose(space) };
        return Err(FfiError::Call {
            call: "H5Sselect_hyperslab",
            code: code.into(),
        });
    }
    Ok(space)
}

/// Creates `name` in `group`: an f64 virtual dataset of extent `(0.., dims)` mapping each
/// tile's whole `(0.., ty, tx)` source onto its block, the time axis unlimited on both
/// sides. The `hdf5` crate's builder cannot: it selects no element on an empty extent, and
/// chunks every resizable dataset (which would replace the virtual layout).
pub(crate) fn create_virtual(
    group: hid_t,
    name: &str,
    dims: [usize; 2],
    tiles: &[VirtualTile<'_>],
) -> Result<()> {
    let cname = cstring(name)?;
    let dcpl = hdf5::plist::DatasetCreate::try_new().map_err(|_| FfiError::Call {
        call: "H5Pcreate",
        code: -1,
    })?;
    let dtype = hdf5::Datatype::from_type::<f64>().map_err(|_| FfiError::Call {
        call: "H5Tcopy",
        code: -1,
    })?;
    hdf5::sync::sync(|| {
        for t in tiles {
            let (file, dataset) = (cstring(t.file)?, cstring(t.dataset)?);
            let vspace = tile_space(dims, t.start, t.shape)?;
            let src = match tile_space(t.shape, [0, 0], t.shape) {
                Ok(s) => s,
                Err(e) => {
                    // SAFETY: `vspace` is valid and closed once.
                    unsafe { H5Sclose(vspace) };
                    return Err(e);
                }
            };
            // SAFETY: `dcpl` is a dataset creation property list held by `dcpl`; both spaces
            // are valid; the names are NUL-terminated and alive for the call. The spaces are
            // copied by HDF5 and closed here once.
            let code = unsafe {
                let code = H5Pset_virtual(dcpl.id(), vspace, file.as_ptr(), dataset.as_ptr(), src);
                H5Sclose(vspace);
                H5Sclose(src);
                code
            };
            check(code, "H5Pset_virtual")?;
        }
        let space = tile_space(dims, [0, 0], dims)?;
        // SAFETY: `group` is a valid group id held by the caller, `dtype`, `space` and
        // `dcpl` are valid; the dataset id returned is closed once (the caller reopens it).
        let ds = unsafe {
            let ds = H5Dcreate2(
                group,
                cname.as_ptr(),
                dtype.id(),
                space,
                H5P_DEFAULT,
                dcpl.id(),
                H5P_DEFAULT,
            );
            H5Sclose(space);
            ds
        };
        if ds < 0 {
            return Err(FfiError::Call {
                call: "H5Dcreate2",
                code: ds,
            });
        }
        // SAFETY: `ds` is the dataset just created, closed once.
        check(unsafe { H5Dclose(ds) }, "H5Dclose")?;
        Ok(())
    })
}
