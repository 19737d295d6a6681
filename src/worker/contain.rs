//! Containment: a panic in one connection's task ends that connection
//! only, and a worker thread that ends anyway is seen and taken out of
//! service.
//!
//! monoio does not catch panics in its tasks: one that escapes a task
//! unwinds through the runtime and ends the worker thread, with every
//! connection on it. So each connection task runs inside [`contained`],
//! which catches the panic at the task's edge, drops the connection's state
//! and counts it (`ringress_connection_panics_total`). Should the thread end
//! all the same (a panic outside a connection, a runtime that fails),
//! [`WorkerExit`] marks the worker dead: `/healthz` answers 503,
//! `ringress_workers_alive` drops, its listening sockets are shut so the
//! kernel stops handing it connections, and once no worker is left the
//! process exits non-zero.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use socket2::Socket;

use crate::metrics::Metrics;

/// Run `task`, turning a panic inside it into `Err(())`. The task's state
/// is dropped when this returns, panic or not.
///
/// A struct rather than an `async fn`: an `async fn` would hold the task
/// twice in its state (the argument and the pinned local), doubling every
/// connection's task allocation.
pub struct Contained<F> {
    task: Option<F>,
}

impl<F> Contained<F> {
    pub fn new(task: F) -> Self {
        Self { task: Some(task) }
    }
}

impl<F: Future<Output = ()>> Future for Contained<F> {
    type Output = Result<(), ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `task` is never moved out of `self`: it is polled in
        // place and dropped in place (set to `None`), so pinning `self`
        // pins `task` (structural pinning of one field; `Contained` has no
        // Drop impl and is not `Unpin`-dependent).
        let slot = unsafe { &mut self.get_unchecked_mut().task };
        let Some(task) = slot.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        // SAFETY: see above; `task` stays where it is until dropped.
        let task = unsafe { Pin::new_unchecked(task) };
        // AssertUnwindSafe: after a panic the task is never polled again;
        // what it shared with the worker (counters, the pool, the table
        // cache) is only touched through RefCell borrows that a panic
        // releases as it unwinds.
        let result = match catch_unwind(AssertUnwindSafe(|| task.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(())) => Ok(()),
            Err(_) => Err(()),
        };
        // Dropped in place, now: its connection closes at once.
        *slot = None;
        Poll::Ready(result)
    }
}

/// [`Contained`] as a function.
pub fn contained<F: Future<Output = ()>>(task: F) -> Contained<F> {
    Contained::new(task)
}

/// Held by a worker thread for its whole life; dropped when the thread
/// ends, by return or by panic.
pub struct WorkerExit {
    pub index: usize,
    pub metrics: Arc<Metrics>,
    /// Duplicates of this worker's listening sockets.
    pub listeners: Vec<Socket>,
    /// Set when the process asked the workers to stop.
    pub stop: Arc<AtomicBool>,
}

impl Drop for WorkerExit {
    fn drop(&mut self) {
        let w = &self.metrics.workers[self.index];
        w.engine.set(0);
        if std::thread::panicking() || !self.stop.load(Ordering::Acquire) {
            // Out of the SO_REUSEPORT group: new connections go to the
            // workers that are left.
            for l in &self.listeners {
                crate::listen::stop_accepting(l);
            }
            w.died.set(1);
            tracing::error!(
                worker = self.index,
                "worker thread ended unexpectedly; its listeners are closed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panicking connection task is caught and the runtime goes on
    /// serving the tasks beside it.
    #[test]
    fn a_panicking_task_is_contained_and_its_neighbours_run_on() {
        for engine in [crate::worker::IoEngine::IoUring, crate::worker::IoEngine::Epoll] {
            let ran = crate::worker::engine::block_on(engine, |_| async {
                let neighbour = monoio::spawn(async {
                    monoio::time::sleep(std::time::Duration::from_millis(5)).await;
                    7
                });
                let caught = contained(async {
                    monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                    panic!("a bug on the request path");
                })
                .await;
                let fine = contained(async {}).await;
                (caught, fine, neighbour.await)
            });
            assert_eq!(ran.expect("runtime"), (Err(()), Ok(()), 7), "{engine:?}");
        }
    }
}
