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
pub struct Publisher {
    handle: TableHandle,
    next_generation: u64,
}

impl Publisher {
    pub fn new() -> Self {
        let handle = TableHandle {
            cell: Arc::new(ArcSwap::from_pointee(RouteTable::empty())),
            reloads: Arc::new(AtomicU64::new(0)),
        };
        Self { handle, next_generation: 1 }
    }

    pub fn handle(&self) -> TableHandle {
        self.handle.clone()
    }

    /// Publish `table` as the next generation; returns that generation.
    pub fn publish(&mut self, mut table: RouteTable) -> u64 {
        let generation = self.next_generation;
        self.next_generation += 1;
        table.generation = generation;
        self.handle.cell.store(Arc::new(table));
        self.handle.reloads.fetch_add(1, Ordering::Relaxed);
        generation
    }
}

impl Default for Publisher {
    fn default() -> Self {
        Self::new()
    }
}
