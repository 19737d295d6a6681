//! Where snapshots come from: a manifests directory (`dir`) or a cluster
//! (`kube`); both look ExternalName Services up through `resolve`.
//!
//! Every provider ends in the same place: a [`Snapshot`](crate::Snapshot)
//! compiled by [`compile`](crate::compile()) and handed to a [`Publish`]
//! sink, normally the [`Publisher`].

pub mod dir;
pub mod kube;
pub mod resolve;

use crate::compile::Diagnostic;
use crate::publish::Publisher;
use crate::table::RouteTable;

/// Where a provider puts each new table: the [`Publisher`], or any
/// closure (tests, tools). Returns the generation given to the table.
pub trait Publish: Send {
    fn publish(&mut self, table: RouteTable) -> u64;

    /// A reload that published nothing, and why (for logs, status, tests).
    fn not_published(&mut self, _why: NotPublished<'_>) {}
}

/// Why a reload left the live table in place.
#[derive(Debug)]
pub enum NotPublished<'a> {
    /// The objects are the same as those of the live table, and any
    /// errors among them were already reported.
    Unchanged { live_generation: u64 },
    /// The reload found errors and nothing good changed; the live table
    /// stays.
    Rejected { live_generation: u64, diagnostics: &'a [Diagnostic] },
}

impl Publish for Publisher {
    fn publish(&mut self, table: RouteTable) -> u64 {
        Publisher::publish(self, table)
    }
}

impl<F: FnMut(RouteTable) -> u64 + Send> Publish for F {
    fn publish(&mut self, table: RouteTable) -> u64 {
        self(table)
    }
}
