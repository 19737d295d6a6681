//! `ringress-load`: the bundled load generator, benchmark upstream and
//! regression gate. It depends on nothing else in the workspace, so it can
//! measure any HTTP/1.1 server or proxy.
//!
//! # Layout
//!
//! - [`cli`]: flags, and the parsers for durations, rates, headers and URLs.
//! - [`run`]: `ringress-load run`: one pinned monoio thread per `--threads`,
//!   warmup, measurement window, live progress line, merge of per-thread
//!   records into one [`report::Report`].
//! - [`schedule`]: the open-loop schedule (intended send times, as in wrk2).
//! - [`client`]: one keep-alive connection's loop: connect (TCP or TLS),
//!   send, read one response, record, reconnect after a close or an error.
//! - [`framing`]: HTTP/1.1 message framing: response heads (`httparse`),
//!   `Content-Length`, chunked and close-delimited bodies, both directions.
//! - [`tls`]: the rustls client configuration (`--insecure`, `--cacert`).
//! - [`record`]: per-thread histogram and counters, error kinds, merging.
//! - [`report`]: the report (text and the JSON schema pipelines rely on).
//! - [`plot`]: the latency-by-percentile SVG.
//! - [`compare`]: `ringress-load compare`, the regression gate.
//! - [`upstream`]: `ringress-load upstream`, the thread-per-core benchmark origin.
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod compare;
pub mod framing;
pub mod plot;
pub mod record;
pub mod report;
pub mod run;
pub mod schedule;
pub mod tls;
pub mod upstream;

/// The runtime type every thread uses (io_uring or epoll, chosen at start).
pub(crate) type Runtime = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// Which I/O engine the monoio runtimes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Engine {
    /// io_uring where the kernel allows it, epoll otherwise.
    #[default]
    Auto,
    /// io_uring, or fail.
    IoUring,
    /// epoll.
    Epoll,
}

/// Builds a monoio runtime with timers on the chosen engine.
pub(crate) fn runtime(engine: Engine) -> std::io::Result<Runtime> {
    use monoio::LegacyDriver;
    let legacy = || monoio::RuntimeBuilder::<LegacyDriver>::new().enable_timer().build();
    match engine {
        Engine::Auto => match uring() {
            Ok(rt) => Ok(rt.into()),
            Err(_) => Ok(legacy()?.into()),
        },
        Engine::IoUring => Ok(uring()?.into()),
        Engine::Epoll => Ok(legacy()?.into()),
    }
}

/// An io_uring runtime whose completions run their task work when the
/// thread next enters the kernel (COOP_TASKRUN) rather than through an
/// interrupt, submitted from this thread only (SINGLE_ISSUER); the plain
/// ring on kernels that refuse those flags.
fn uring() -> std::io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    let build = |ring: io_uring::Builder| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .uring_builder(ring)
            .enable_timer()
            .build()
    };
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    build(tuned).or_else(|_| build(io_uring::IoUring::builder()))
}

/// Pins the calling thread to the `index`-th CPU this process may use
/// (its affinity mask, so `taskset` is honoured). Returns the CPU chosen.
pub(crate) fn pin_current_thread(index: usize) -> Option<usize> {
    let cores = core_affinity::get_core_ids()?;
    if cores.is_empty() {
        return None;
    }
    let core = cores[index % cores.len()];
    core_affinity::set_for_current(core).then_some(core.id)
}
