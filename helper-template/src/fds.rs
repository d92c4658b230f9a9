//! Taking listening sockets from the service manager: the helper's only `unsafe` code.
//!
//! Both launchd and systemd hand over plain descriptor numbers. Turning a number into an
//! `OwnedFd` is sound only if the descriptor is open and nothing else in the process owns
//! it; each function here checks the first and guarantees the second by handing each
//! descriptor out once.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

static TAKEN: AtomicBool = AtomicBool::new(false);

/// Adopt descriptors `first .. first + count` passed by systemd socket activation.
///
/// Callers check `LISTEN_PID` first: the descriptors are ours only when it names this
/// process. Works once per process; a second call fails instead of double-owning.
pub fn take_inherited(first: RawFd, count: usize) -> io::Result<Vec<OwnedFd>> {
    if TAKEN.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "inherited sockets were already taken",
        ));
    }
    let mut out = Vec::with_capacity(count.min(64));
    for i in 0..count {
        let fd = RawFd::try_from(i)
            .ok()
            .and_then(|i| first.checked_add(i))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many fds"))?;
        check_socket(fd)?;
        // SAFETY: `fd` is open and a socket (checked above), the service manager passed it to
        // this process (LISTEN_PID checked by the caller), and TAKEN ensures no second owner
        // is created by this module; nothing else in the helper uses raw descriptors.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec(&owned)?;
        out.push(owned);
    }
    Ok(out)
}

fn check_socket(fd: RawFd) -> io::Result<()> {
    // SAFETY: fstat only writes into the zeroed struct we pass; an invalid fd is an error.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `stat` is a valid, writable `struct stat`.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!("inherited fd {fd} is not open: {err}"),
        ));
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inherited fd {fd} is not a socket"),
        ));
    }
    Ok(())
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // Inherited descriptors come without FD_CLOEXEC; set it so a child never inherits them.
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Check in with launchd for the sockets of the `Sockets` entry `name`
/// (`launch_activate_socket(3)`): launchd created and bound them from the job's plist.
///
/// `Err` with `ESRCH` means the process is not managed by launchd, `ENOENT` that the job has
/// no such socket entry, `EALREADY` that it was already activated.
#[cfg(target_os = "macos")]
pub fn launch_activate_socket(name: &str) -> io::Result<Vec<OwnedFd>> {
    use std::ffi::{c_char, c_int, CString};

    extern "C" {
        // <launch.h>, libSystem (macOS 10.9+).
        fn launch_activate_socket(
            name: *const c_char,
            fds: *mut *mut c_int,
            cnt: *mut usize,
        ) -> c_int;
    }

    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "socket name contains NUL"))?;
    let mut fds: *mut c_int = std::ptr::null_mut();
    let mut count: usize = 0;
    // SAFETY: `cname` is a valid C string for the call's duration; `fds` and `count` are valid
    // out-pointers. On success launchd stores a malloc'd array of `count` descriptors in `fds`.
    let err = unsafe { launch_activate_socket(cname.as_ptr(), &mut fds, &mut count) };
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    if fds.is_null() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(count.min(64));
    for i in 0..count {
        // SAFETY: `i < count`, the array launchd returned has `count` elements, and each is a
        // descriptor launchd handed to this process for it alone.
        let fd = unsafe { *fds.add(i) };
        // SAFETY: see above: the descriptor is open and owned by nobody else.
        out.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    // SAFETY: `fds` was allocated by launchd with malloc and is ours to free, once.
    unsafe { libc::free(fds.cast()) };
    Ok(out)
}
