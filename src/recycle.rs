//! Recycled allocations for the futures of a request's phases.
//!
//! A connection's task is allocated once, at the size of its largest
//! state. If the phases of a request (routing, forwarding, relaying, with
//! their nested reads, writes and timers) lived inline, every connection —
//! idle ones too — would carry their several KiB. So a request's future
//! lives in a [`Recycled`] allocation while it runs: taken from this
//! thread's free blocks when the request starts and given back when it
//! ends, so keep-alive requests allocate nothing once a worker is warm, and
//! an idle connection holds only the small loop around them.
//!
//! Blocks are kept per layout (a handful of future types exist), at most
//! [`MAX_FREE_PER_LAYOUT`] each; more are freed.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// Most free blocks kept per layout on one thread.
pub const MAX_FREE_PER_LAYOUT: usize = 1024;

thread_local! {
    static FREE: RefCell<Vec<(Layout, Vec<NonNull<u8>>)>> = const { RefCell::new(Vec::new()) };
}

fn take_block(layout: Layout) -> NonNull<u8> {
    let reused = FREE.with(|f| {
        let mut f = f.borrow_mut();
        f.iter_mut().find(|(l, _)| *l == layout).and_then(|(_, blocks)| blocks.pop())
    });
    reused.unwrap_or_else(|| {
        // SAFETY: `layout` has a non-zero size (checked by the caller).
        let p = unsafe { alloc(layout) };
        NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
    })
}

fn give_block(block: NonNull<u8>, layout: Layout) {
    let kept = FREE
        .try_with(|f| {
            let mut f = f.borrow_mut();
            let i = match f.iter().position(|(l, _)| *l == layout) {
                Some(i) => i,
                None => {
                    f.push((layout, Vec::new()));
                    f.len() - 1
                }
            };
            let blocks = &mut f[i].1;
            if blocks.len() < MAX_FREE_PER_LAYOUT {
                blocks.push(block);
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: `block` came from `alloc(layout)` in `take_block` and is
        // no longer used.
        unsafe { dealloc(block.as_ptr(), layout) };
    }
}

/// A future in a recycled heap block. Like `Pin<Box<F>>`: the future never
/// moves once placed; dropping the `Recycled` drops the future and gives
/// the block back.
pub struct Recycled<F> {
    ptr: NonNull<F>,
}

impl<F> Recycled<F> {
    /// Place `future` in a block of this thread's free list.
    pub fn new(future: F) -> Self {
        let layout = Layout::new::<F>();
        if layout.size() == 0 {
            // Nothing to store: a dangling, aligned pointer is a valid place
            // for a zero-sized value.
            std::mem::forget(future);
            return Self { ptr: NonNull::dangling() };
        }
        let ptr = take_block(layout).cast::<F>();
        // SAFETY: `ptr` is a fresh block of F's size and alignment, not
        // aliased; writing moves `future` into it.
        unsafe { ptr.as_ptr().write(future) };
        Self { ptr }
    }
}

impl<F: Future> Future for Recycled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the future lives at `ptr` until `Recycled` is dropped and
        // is never moved out or exposed by value or by `&mut` elsewhere, so
        // pinning it there is sound (as `Pin<Box<F>>` is). `Recycled` itself
        // is `Unpin`: moving it moves only the pointer.
        let future = unsafe { Pin::new_unchecked(&mut *self.get_mut().ptr.as_ptr()) };
        future.poll(cx)
    }
}

impl<F> Drop for Recycled<F> {
    fn drop(&mut self) {
        let layout = Layout::new::<F>();
        // SAFETY: `ptr` holds a live F written in `new` (or a zero-sized F
        // at a dangling pointer, for which drop_in_place is valid); it is
        // dropped once, here.
        unsafe { std::ptr::drop_in_place(self.ptr.as_ptr()) };
        if layout.size() != 0 {
            give_block(self.ptr.cast::<u8>(), layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Poll `f` once: the futures here finish at their first poll.
    fn run<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("the test future did not finish at once"),
        }
    }

    /// The block of a finished future is the one the next future of that
    /// type gets: no allocation per request once warm.
    #[test]
    fn a_finished_futures_block_is_reused() {
        async fn make(v: u8) -> [u8; 4096] {
            [v; 4096]
        }
        let first = Recycled::new(make(7));
        let ptr = first.ptr.as_ptr() as usize;
        assert_eq!(run(first)[4095], 7);
        let second = Recycled::new(make(9));
        assert_eq!(second.ptr.as_ptr() as usize, ptr);
        assert_eq!(run(second)[0], 9);
    }

    /// Dropping an unfinished future drops what it holds, exactly once.
    #[test]
    fn dropping_an_unfinished_future_drops_its_state() {
        let held = Rc::new(());
        let inner = held.clone();
        let future = Recycled::new(async move {
            let _keep = inner;
            std::future::pending::<()>().await;
        });
        assert_eq!(Rc::strong_count(&held), 2);
        drop(future);
        assert_eq!(Rc::strong_count(&held), 1);
    }

    /// Small futures and zero-sized ones run too.
    #[test]
    fn small_and_zero_sized_futures_run() {
        assert_eq!(run(Recycled::new(std::future::ready(5))), 5);
        struct Zst;
        impl Future for Zst {
            type Output = u8;
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u8> {
                Poll::Ready(3)
            }
        }
        assert_eq!(run(Recycled::new(Zst)), 3);
    }
}
