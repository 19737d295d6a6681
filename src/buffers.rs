//! The worker's buffer pool: the large buffers a connection needs only while
//! a request is in progress.
//!
//! A keep-alive connection spends most of its life idle, waiting for the
//! next request. While it waits it holds only a small buffer
//! ([`IDLE_CAPACITY`]) for the read that wakes it; the request and response
//! buffers ([`CAPACITY`]) come from this pool when bytes arrive and go back
//! when the connection is idle again, so 10,000 idle connections do not pin
//! 10,000 sets of buffers. A buffer that grew past [`CAPACITY`] (a large
//! head) is freed instead of pooled, which shrinks the connection back.
//!
//! The pool is thread-local: each worker thread has its own, so taking and
//! giving are a `Vec` pop and push with no lock and no atomic. It keeps at
//! most [`MAX_FREE`] buffers; more are freed.

use std::cell::RefCell;

/// Capacity of a pooled buffer: one full TLS record (16 KiB of plaintext
/// plus its header, tag and padding) fits, so a TLS write of up to 16 KiB
/// never grows it.
pub const CAPACITY: usize = 16 * 1024 + 1024;

/// Capacity of the buffer an idle connection waits with (nginx's
/// `client_header_buffer_size` default): most request heads arrive whole
/// in it; a longer one continues in a pooled buffer.
pub const IDLE_CAPACITY: usize = 1024;

/// Most free buffers one worker keeps (17 MiB).
pub const MAX_FREE: usize = 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer of [`CAPACITY`], from the pool when it has one.
#[inline]
pub fn take() -> Vec<u8> {
    FREE.with(|f| f.borrow_mut().pop()).unwrap_or_else(|| Vec::with_capacity(CAPACITY))
}

/// Give `buf` back: pooled when it has exactly [`CAPACITY`] and the pool has
/// room, freed otherwise. An empty `Vec` (capacity 0) is a no-op.
#[inline]
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() != CAPACITY {
        return;
    }
    buf.clear();
    FREE.with(|f| {
        let mut free = f.borrow_mut();
        if free.len() < MAX_FREE {
            free.push(buf);
        }
    });
}

/// Give back the buffer in `slot`, leaving an empty `Vec` (no allocation).
#[inline]
pub fn release(slot: &mut Vec<u8>) {
    if slot.capacity() != 0 {
        give(std::mem::take(slot));
    }
}

/// Make sure `slot` holds a pooled buffer (taking one if it is empty).
#[inline]
pub fn ensure(slot: &mut Vec<u8>) {
    if slot.capacity() == 0 {
        *slot = take();
    }
}

/// Free buffers in this thread's pool.
#[cfg(test)]
fn free_count() -> usize {
    FREE.with(|f| f.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer given back is the one taken next: no allocation once warm.
    #[test]
    fn a_returned_buffer_is_reused() {
        let a = take();
        let ptr = a.as_ptr();
        give(a);
        let b = take();
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b.capacity(), CAPACITY);
        assert!(b.is_empty());
    }

    /// A buffer that grew for a large head is freed, not pooled: the
    /// connection shrinks back to the standard size.
    #[test]
    fn a_grown_buffer_is_not_pooled() {
        let before = free_count();
        let mut big = take();
        big.reserve(CAPACITY * 2);
        give(big);
        assert_eq!(free_count(), before);
    }

    /// The pool never keeps more than MAX_FREE buffers.
    #[test]
    fn the_pool_is_bounded() {
        let bufs: Vec<_> = (0..MAX_FREE + 10).map(|_| take()).collect();
        for b in bufs {
            give(b);
        }
        assert_eq!(free_count(), MAX_FREE);
    }
}
