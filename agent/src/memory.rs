//! Giving memory back when idle. The service spends most of its life
//! waiting on a PC the office works on; what a 100,000-record sync used
//! (batch buffers, SQLite's page cache) should not stay with it.
//!
//! mimalloc keeps freed pages with the thread that allocated them until that
//! thread collects; the runtime's workers do so when they next go idle after
//! [`release`] asks ([`on_thread_park`] is the runtime's park hook).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times memory has been asked back; each thread collects once per ask.
static ASKED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COLLECTED: Cell<u64> = const { Cell::new(0) };
}

fn collect_here() {
    // SAFETY: mi_collect only returns mimalloc's free pages (this thread's,
    // and abandoned ones) to the system; it may be called from any thread at
    // any time, and does nothing where mimalloc is not the allocator in use.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// For the runtime's `on_thread_park`: one atomic load, and a collection
/// only when memory was asked back since this thread last collected.
pub fn on_thread_park() {
    let asked = ASKED.load(Ordering::Relaxed);
    COLLECTED.with(|done| {
        if done.get() != asked {
            done.set(asked);
            collect_here();
        }
    });
}

/// Asks every thread to give back its free memory, collecting on this one
/// now and waking the runtime's workers so that they do on parking.
pub fn release() {
    ASKED.fetch_add(1, Ordering::Relaxed);
    collect_here();
    // SQLite allocates with the C library's malloc, whose arenas glibc keeps
    // unless asked.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        for _ in 0..runtime.metrics().num_workers() * 2 {
            runtime.spawn(async {});
        }
    }
}

/// mimalloc's `mi_option_purge_delay`: its place in `mi_option_e`, the same
/// in mimalloc 2 and 3 (the `libmimalloc-sys` crate names only some).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the
/// system. mimalloc 3 waits a second; a sync or import frees a batch's
/// buffers (several MB) on another thread than the one that fills the next,
/// so within that second a second and a third copy were resident: peak RSS
/// of a 100,000-record sync 43–50 MB with the second, 32–38 MB with 10 ms;
/// of an import 71 MB and 53 MB, at 7% more time (the system calls).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Sets how promptly freed memory is given back (before the first thread
/// starts). `MIMALLOC_PURGE_DELAY` in the environment still decides, for
/// whoever measures another setting.
pub fn give_back_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set only stores an option's value; purge_delay is
    // read each time mimalloc decides whether to purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}
