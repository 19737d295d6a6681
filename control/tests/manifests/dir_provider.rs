//! The manifests provider live: files written into a temporary directory
//! while `run` watches it; every wait has a deadline.

use std::path::Path;
use std::time::Duration;

use ringress_control::provider::dir::run;
use ringress_control::provider::{NotPublished, Publish};
use ringress_control::table::RouteTable;
use ringress_control::{CompileOptions, Publisher, TableHandle};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::site;

const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, PartialEq)]
enum Event {
    Published(u64),
    Unchanged,
    Rejected { live: u64, errors: usize },
}

struct Sink {
    publisher: Publisher,
    events: UnboundedSender<Event>,
}

impl Publish for Sink {
    fn publish(&mut self, table: RouteTable) -> u64 {
        let generation = self.publisher.publish(table);
        let _ = self.events.send(Event::Published(generation));
        generation
    }

    fn not_published(&mut self, why: NotPublished<'_>) {
        let event = match why {
            NotPublished::Unchanged { .. } => Event::Unchanged,
            NotPublished::Rejected { live_generation, diagnostics } => Event::Rejected {
                live: live_generation,
                errors: diagnostics.iter().filter(|d| d.is_error()).count(),
            },
        };
        let _ = self.events.send(event);
    }
}

async fn next(events: &mut UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("the provider reacts before the deadline")
        .expect("the provider is running")
}

/// The next event that is not `Unchanged` (a write-then-rename may reach
/// the provider as two batches, the first of which changes nothing).
async fn next_change(events: &mut UnboundedReceiver<Event>) -> Event {
    loop {
        match next(events).await {
            Event::Unchanged => continue,
            event => return event,
        }
    }
}

type Task = tokio::task::JoinHandle<Result<(), ringress_control::provider::dir::DirError>>;
type Stop = tokio::sync::oneshot::Sender<()>;

/// The provider running on `dir`: its live table, its events, and how to
/// stop it.
fn start(dir: &Path) -> (TableHandle, UnboundedReceiver<Event>, Stop, Task) {
    let publisher = Publisher::new();
    let handle = publisher.handle();
    let (tx, events) = unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(
        dir.to_path_buf(),
        CompileOptions::default(),
        Sink { publisher, events: tx },
        async move {
            let _ = stopped.await;
        },
    ));
    (handle, events, stop, task)
}

fn write(dir: &Path, name: &str, text: &str) {
    // Write then rename, as editors and ConfigMap updates do.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn routes(handle: &TableHandle, host: &str) -> bool {
    handle.load().route(host, "/").is_some()
}

/// A second site under its own IngressClass name, so that sites in
/// several files do not declare the same IngressClass twice.
fn other_site(host: &str, svc: &str, ip: &str) -> String {
    site(host, svc, ip).replacen("name: ringress", &format!("name: ringress-{svc}"), 1)
}

const BROKEN: &str = "kind: Service\nmetadata: {name: [broken\n";

/// Start with one site and add a second. Break the second file: it read
/// cleanly before, so its last good version stays live and nothing is
/// published. Add a third site while the second file is still broken: the
/// rest compiles and goes live, the broken file's last good version with
/// it. An event that changes nothing while a file stays broken is
/// `Unchanged`, not a second rejection. A new file with one good and one broken document contributes its
/// good objects. Removing files takes their objects away; rewriting a file
/// unchanged publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dir_provider_skips_errors_and_keeps_last_good_version_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &site("a.com", "web-a", "10.0.0.1"));
    let (handle, mut events, stop, task) = start(dir.path());

    assert_eq!(next(&mut events).await, Event::Published(1));
    assert!(handle.is_live());
    assert!(routes(&handle, "a.com"));

    write(dir.path(), "b.yaml", &other_site("b.com", "web-b", "10.0.0.2"));
    assert_eq!(next_change(&mut events).await, Event::Published(2));
    assert!(routes(&handle, "a.com") && routes(&handle, "b.com"));

    write(dir.path(), "b.yaml", BROKEN);
    assert_eq!(next_change(&mut events).await, Event::Rejected { live: 2, errors: 1 });
    assert_eq!(handle.load().generation(), 2);
    assert!(routes(&handle, "b.com"), "the broken file's last good version stays live");

    // A change event that changes nothing re-announces no error.
    write(dir.path(), "a.yaml", &site("a.com", "web-a", "10.0.0.1"));
    assert_eq!(next(&mut events).await, Event::Unchanged);

    write(dir.path(), "c.yaml", &other_site("c.com", "web-c", "10.0.0.3"));
    assert_eq!(next_change(&mut events).await, Event::Published(3));
    assert!(routes(&handle, "c.com"), "the rest compiles while b.yaml is broken");
    assert!(routes(&handle, "a.com") && routes(&handle, "b.com"));

    let half_good = format!("{}---\n{BROKEN}", other_site("d.com", "web-d", "10.0.0.4"));
    write(dir.path(), "d.yaml", &half_good);
    assert_eq!(next_change(&mut events).await, Event::Published(4));
    assert!(routes(&handle, "d.com"), "a new file's valid documents are served");

    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    assert_eq!(next_change(&mut events).await, Event::Published(5));
    assert!(!routes(&handle, "b.com"), "a removed file takes its objects with it");

    std::fs::remove_file(dir.path().join("d.yaml")).unwrap();
    assert_eq!(next_change(&mut events).await, Event::Published(6));
    assert!(!routes(&handle, "d.com"));
    assert!(routes(&handle, "a.com") && routes(&handle, "c.com"));

    write(dir.path(), "a.yaml", &site("a.com", "web-a", "10.0.0.1"));
    assert_eq!(next(&mut events).await, Event::Unchanged);
    assert_eq!(handle.reloads(), 6);

    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
}

/// A directory that does not exist fails `run` at once.
#[tokio::test]
async fn dir_provider_fails_on_missing_directory() {
    let publisher = Publisher::new();
    let result = tokio::time::timeout(
        DEADLINE,
        run(
            "/nonexistent/ringress".into(),
            CompileOptions::default(),
            publisher,
            std::future::pending(),
        ),
    )
    .await
    .unwrap();
    assert!(result.is_err());
}

/// Reading the directory (its listing, every file: what each reload does
/// itself, and what `cat` or a backup does) is not a change: the provider
/// stays idle, where taking those reads for changes made each reload
/// cause the next, for ever. A real write is still seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_files_is_not_a_change() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &site("a.com", "web-a", "10.0.0.1"));
    let (handle, mut events, stop, task) = start(dir.path());
    assert_eq!(next(&mut events).await, Event::Published(1));
    for _ in 0..3 {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let _ = std::fs::read(entry.unwrap().path()).unwrap();
        }
    }
    // Nothing happens: no reload at all (a reload would be reported, as
    // `Unchanged`), however long one waits; half a second is plenty for
    // the loop this guards against, which reloaded every few milliseconds.
    let idle = tokio::time::timeout(Duration::from_millis(500), events.recv()).await;
    assert!(idle.is_err(), "reads caused a reload: {idle:?}");

    write(dir.path(), "b.yaml", &other_site("b.com", "web-b", "10.0.0.2"));
    assert_eq!(next_change(&mut events).await, Event::Published(2));
    assert!(routes(&handle, "b.com"));
    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
}
