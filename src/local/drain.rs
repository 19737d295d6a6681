//! Worker-local drain: when the worker stops accepting, connections waiting
//! idle for their next request are woken and close; connections with a
//! request in flight finish it, then close.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Shared by the accept loop and every connection task of one worker.
#[derive(Default)]
pub struct Drain {
    draining: Cell<bool>,
    /// Wakers of idle connections, by slot; `free` lists reusable slots.
    slots: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
    /// Open connections, and the waker of whoever waits for zero.
    open: Cell<usize>,
    empty_waker: RefCell<Option<Waker>>,
}

impl Drain {
    pub fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// Start draining: wake every idle connection.
    pub fn start(&self) {
        self.draining.set(true);
        for w in self.slots.borrow_mut().iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    /// Register a connection; dropping the guard unregisters it.
    pub fn enter(self: &Rc<Self>) -> ConnGuard {
        self.open.set(self.open.get() + 1);
        let slot = match self.free.borrow_mut().pop() {
            Some(slot) => slot,
            None => {
                let mut slots = self.slots.borrow_mut();
                slots.push(None);
                slots.len() - 1
            }
        };
        ConnGuard { drain: self.clone(), slot }
    }

    /// Connections open on this worker.
    pub fn open(&self) -> usize {
        self.open.get()
    }

    /// Resolves when no connection is open.
    pub async fn all_closed(&self) {
        poll_fn(|cx| {
            if self.open.get() == 0 {
                Poll::Ready(())
            } else {
                *self.empty_waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// A connection's registration with its worker's [`Drain`].
pub struct ConnGuard {
    drain: Rc<Drain>,
    slot: usize,
}

impl ConnGuard {
    pub fn is_draining(&self) -> bool {
        self.drain.is_draining()
    }

    /// Resolves once the worker starts draining.
    pub async fn draining(&self) {
        poll_fn(|cx| {
            if self.drain.is_draining() {
                return Poll::Ready(());
            }
            if let Some(slot) = self.drain.slots.borrow_mut().get_mut(self.slot) {
                match slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *slot = Some(cx.waker().clone()),
                }
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.drain.slots.borrow_mut().get_mut(self.slot) {
            *slot = None;
        }
        self.drain.free.borrow_mut().push(self.slot);
        let open = self.drain.open.get().saturating_sub(1);
        self.drain.open.set(open);
        if open == 0 {
            if let Some(w) = self.drain.empty_waker.borrow_mut().take() {
                w.wake();
            }
        }
    }
}
