//! Publishing tables to the workers with arc-swap.
//!
//! The control thread owns the [`Publisher`]; workers hold a [`TableHandle`]
//! and read it through an `arc_swap::Cache` once per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::table::RouteTable;

/// Read side, cheap to clone, handed to every worker and the admin server.
#[derive(Clone)]
pub struct TableHandle {
    cell: Arc<ArcSwap<RouteTable>>,
    reloads: Arc<AtomicU64>,
}

impl TableHandle {
    /// The shared cell, for `arc_swap::Cache::new(handle.cell())`.
    pub fn cell(&self) -> &Arc<ArcSwap<RouteTable>> {
        &self.cell
    }

    /// Load the current table (not for the per-request path: use a Cache).
    pub fn load(&self) -> Arc<RouteTable> {
        self.cell.load_full()
    }

    /// True once a first table has been published.
    pub fn is_live(&self) -> bool {
        self.cell.load().generation() > 0
    }

    /// Number of tables published so far.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }
}

/// Write side: assigns strictly increasing generations and swaps.
///
/// Replaced tables are not dropped by whoever lets go of them last: a
/// worker's cache holds the old table until its next request, and freeing
/// a table of 10,000 routes there would stall that worker's connections
/// for milliseconds. The publisher keeps every replaced table until it is
/// the only holder, and frees it then, on the control thread.
pub struct Publisher {
    handle: TableHandle,
    next_generation: u64,
    retired: Vec<Arc<RouteTable>>,
}

impl Publisher {
    pub fn new() -> Self {
        let handle = TableHandle {
            cell: Arc::new(ArcSwap::from_pointee(RouteTable::empty())),
            reloads: Arc::new(AtomicU64::new(0)),
        };
        Self { handle, next_generation: 1, retired: Vec::new() }
    }

    pub fn handle(&self) -> TableHandle {
        self.handle.clone()
    }

    /// Publish `table` as the next generation; returns that generation.
    pub fn publish(&mut self, mut table: RouteTable) -> u64 {
        let generation = self.next_generation;
        self.next_generation += 1;
        table.generation = generation;
        let old = self.handle.cell.swap(Arc::new(table));
        self.handle.reloads.fetch_add(1, Ordering::Relaxed);
        self.retired.push(old);
        self.collect();
        generation
    }

    /// Free the replaced tables nobody else holds any more. Called on each
    /// publish; a control loop may call it more often.
    pub fn collect(&mut self) {
        self.retired.retain(|t| Arc::strong_count(t) > 1);
    }

    /// Replaced tables still held by a reader.
    pub fn retired(&self) -> usize {
        self.retired.len()
    }
}

impl Default for Publisher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replaced table a reader still holds is kept until the reader lets
    /// go, and then freed by the publisher, not by the reader.
    #[test]
    fn replaced_tables_are_freed_by_the_publisher_once_readers_let_go() {
        let mut publisher = Publisher::new();
        let handle = publisher.handle();
        publisher.publish(RouteTable::empty());
        let reader = handle.load();
        assert_eq!(reader.generation(), 1);
        publisher.publish(RouteTable::empty());
        // The empty table of `new` is freed; generation 1 is still read.
        assert_eq!(publisher.retired(), 1);
        let weak = Arc::downgrade(&reader);
        drop(reader);
        assert!(weak.upgrade().is_some(), "the reader's drop did not free it");
        publisher.collect();
        assert_eq!(publisher.retired(), 0);
        assert!(weak.upgrade().is_none(), "the publisher freed it");
        assert_eq!(handle.load().generation(), 2);
    }
}
