//! The worker's share of `--max-connections`: a count of open downstream
//! connections, taken at accept (before the connection's task runs, so a
//! burst of accepts cannot overshoot) and given back when the task ends.

use std::cell::Cell;
use std::rc::Rc;

/// Open connections on one worker and how many it may hold.
pub struct ConnLimit {
    open: Cell<usize>,
    max: usize,
}

impl ConnLimit {
    pub fn new(max: usize) -> Rc<Self> {
        Rc::new(Self { open: Cell::new(0), max })
    }

    /// A slot for one more connection, or `None` when the worker is full.
    #[inline]
    pub fn try_acquire(self: &Rc<Self>) -> Option<ConnSlot> {
        let open = self.open.get();
        if open >= self.max {
            return None;
        }
        self.open.set(open + 1);
        Some(ConnSlot { limit: Rc::clone(self) })
    }

    /// Connections holding a slot now.
    pub fn open(&self) -> usize {
        self.open.get()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

/// One connection's place under the limit; dropping it frees the place.
pub struct ConnSlot {
    limit: Rc<ConnLimit>,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.limit.open.set(self.limit.open.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At most `max` slots are out at once; a freed slot can be taken again.
    #[test]
    fn slots_are_bounded_and_returned() {
        let limit = ConnLimit::new(2);
        let a = limit.try_acquire().expect("first");
        let _b = limit.try_acquire().expect("second");
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.open(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.try_acquire().is_some());
    }
}
