//! A counting global allocator for the allocation tests. A test binary
//! that counts installs it:
//!
//! ```text
//! #[global_allocator]
//! static ALLOCATOR: ringress_test_support::alloc::Counting = ringress_test_support::alloc::Counting;
//! ```
//!
//! A thread counts only once it is given a counter, so the harness's own
//! threads and tests running in parallel never count into each other's
//! figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting allocations and reallocations.
pub struct Counting;

thread_local! {
    static COUNTER: Cell<Option<&'static AtomicU64>> = const { Cell::new(None) };
}

/// From now on, allocations and reallocations made on this thread are added
/// to `counter`; `None` stops counting.
pub fn count_on_this_thread(counter: Option<&'static AtomicU64>) {
    COUNTER.with(|c| c.set(counter));
}

/// A counter that lives as long as the test binary, for
/// [`count_on_this_thread`].
pub fn new_counter() -> &'static AtomicU64 {
    Box::leak(Box::new(AtomicU64::new(0)))
}

fn count() {
    if let Ok(Some(counter)) = COUNTER.try_with(Cell::get) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counting touches only an atomic and a const-initialised thread-local,
// neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
