//! The I/O engine a worker runs (io_uring or epoll) and how many workers
//! the machine gives us.

use std::future::Future;
use std::io;

use crate::metrics::Engine;

/// `--io-engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IoEngine {
    /// io_uring, falling back to epoll when the kernel or a seccomp profile
    /// refuses it.
    #[default]
    Auto,
    #[value(name = "io-uring")]
    IoUring,
    Epoll,
}

/// Submission queue entries per io_uring instance.
const URING_ENTRIES: u32 = 1024;

/// Build a runtime for `choice` on this thread and run the future `f`
/// makes (told which engine it runs on) to completion.
pub fn block_on<F, Fut>(choice: IoEngine, f: F) -> io::Result<Fut::Output>
where
    F: FnOnce(Engine) -> Fut,
    Fut: Future,
{
    match choice {
        IoEngine::IoUring => Ok(uring()?.block_on(f(Engine::IoUring))),
        IoEngine::Epoll => Ok(legacy()?.block_on(f(Engine::Epoll))),
        IoEngine::Auto => match uring() {
            Ok(mut rt) => Ok(rt.block_on(f(Engine::IoUring))),
            Err(e) => {
                tracing::info!(error = %e, "io_uring refused; falling back to epoll");
                Ok(legacy()?.block_on(f(Engine::Epoll)))
            }
        },
    }
}

fn uring() -> io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    // Cooperative task running: a completion no longer interrupts the
    // worker's CPU to run its task work; it runs at the worker's next
    // entry into the kernel, which the event loop makes every turn. Single
    // issuer: only the thread that builds the ring (this worker) submits.
    // Kernels before 5.19/6.0 refuse these flags: then the plain ring.
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun().setup_single_issuer();
    let build = |urb: io_uring::Builder| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .uring_builder(urb)
            .enable_timer()
            .build()
    };
    build(tuned).or_else(|_| build(io_uring::IoUring::builder()))
}

fn legacy() -> io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>>> {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().enable_timer().build()
}

/// Whether this process may use io_uring (for tests choosing engines).
pub fn io_uring_available() -> bool {
    uring().is_ok()
}

/// The CPUs in this process's affinity mask, in order.
pub fn usable_cores() -> Vec<core_affinity::CoreId> {
    core_affinity::get_core_ids().unwrap_or_default()
}

/// Default `--workers`: CPUs in the affinity mask, further limited by a
/// cgroup v2 `cpu.max` quota (rounded up), at least 1.
pub fn default_workers() -> usize {
    let cpus = usable_cores().len().max(1);
    match cgroup_cpu_quota() {
        Some(quota) => cpus.min(quota).max(1),
        None => cpus,
    }
}

/// CPUs allowed by the cgroup v2 quota of this process, if one is set.
#[allow(clippy::disallowed_methods)] // Read once at start, before any worker runs.
fn cgroup_cpu_quota() -> Option<usize> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v2: a single line "0::/path".
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let file = format!("/sys/fs/cgroup{}/cpu.max", path.trim_end_matches('/'));
    let text = std::fs::read_to_string(file).ok()?;
    parse_cpu_max(&text)
}

/// `cpu.max` is "QUOTA PERIOD" or "max PERIOD".
fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota: u64 = parts.next()?.parse().ok()?;
    let period: u64 = parts.next()?.parse().ok()?;
    if period == 0 {
        return None;
    }
    Some(quota.div_ceil(period).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cpu.max` quotas round up to whole CPUs; `max` means no limit.
    #[test]
    fn cpu_max_quota_rounds_up() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("50000 100000"), Some(1));
        assert_eq!(parse_cpu_max("400000 100000"), Some(4));
    }

    /// The default worker count is at least one and within the mask.
    #[test]
    fn default_workers_within_affinity_mask() {
        let n = default_workers();
        assert!(n >= 1 && n <= usable_cores().len().max(1));
    }
}
