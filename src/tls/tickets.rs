//! Session tickets that every worker can decrypt.
//!
//! One ticketer per process, shared by all workers through the `Arc` in
//! each worker's `ServerConfig`: a client that got a ticket from worker 0
//! resumes on whichever worker accepts its next connection. The provider's
//! `Ticketer` rotates the key every 6 hours and accepts tickets for twice
//! that; the key lives only in memory, so a restart invalidates tickets
//! (clients fall back to a full handshake).

use std::sync::Arc;

use rustls::server::ProducesTickets;

use super::TlsSetupError;

/// The process-wide rotating ticketer.
pub fn shared_ticketer() -> Result<Arc<dyn ProducesTickets>, TlsSetupError> {
    super::crypto::Ticketer::new().map_err(TlsSetupError::Ticketer)
}
