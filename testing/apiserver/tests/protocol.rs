//! The fixture speaks the protocol kube's client and watcher expect:
//! paged lists, watches resumed by resourceVersion, the 410 ERROR event,
//! dropped connections, conflicts and the status subresource.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use ringress_test_apiserver::ApiServer;

const DEADLINE: Duration = Duration::from_secs(10);

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        data: Some([("v".to_string(), value.to_string())].into()),
        ..Default::default()
    }
}

async fn client(server: &ApiServer, token: &str) -> kube::Client {
    let path = std::env::temp_dir().join(format!(
        "ringress-fixture-{}-{}.yaml",
        std::process::id(),
        server.addr().port()
    ));
    server.write_kubeconfig(&path, token).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let _ = std::fs::remove_file(&path);
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn lists_page_by_limit_and_continue() {
    let server = ApiServer::start().await.unwrap();
    for i in 0..5 {
        server.apply(&config_map(&format!("cm{i}"), "x"));
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&server, "t").await, "default");
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(second.items[0].metadata.name.as_deref(), Some("cm2"));
    assert_eq!(second.metadata.resource_version, first.metadata.resource_version);
    // The watcher pages by its own page size and sees everything.
    let wc = watcher::Config::default().page_size(2);
    let mut stream = std::pin::pin!(watcher::watcher(api, wc));
    let mut names = Vec::new();
    let collect = async {
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                Event::InitApply(cm) => names.push(cm.metadata.name.unwrap()),
                Event::InitDone => break,
                _ => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, collect).await.unwrap();
    assert_eq!(names, ["cm0", "cm1", "cm2", "cm3", "cm4"]);
    assert!(server.requests().iter().any(|r| r.uri.contains("?&limit=2")));
}

#[tokio::test]
async fn watch_resumes_then_relists_after_410() {
    let server = ApiServer::start_with_bookmarks(Duration::from_millis(50)).await.unwrap();
    server.apply(&config_map("a", "1"));
    let api: Api<ConfigMap> = Api::namespaced(client(&server, "t").await, "default");
    let mut stream = std::pin::pin!(watcher::watcher(api, watcher::Config::default()));
    let mut next = async || tokio::time::timeout(DEADLINE, stream.next()).await.unwrap().unwrap();
    assert!(matches!(next().await, Ok(Event::Init)));
    assert!(matches!(next().await, Ok(Event::InitApply(_))));
    assert!(matches!(next().await, Ok(Event::InitDone)));
    server.apply(&config_map("b", "2"));
    let Ok(Event::Apply(b)) = next().await else { panic!("expected b") };
    assert_eq!(b.metadata.name.as_deref(), Some("b"));

    // A dropped connection resumes from the last resourceVersion.
    server.drop_watches();
    server.apply(&config_map("c", "3"));
    loop {
        match next().await {
            Ok(Event::Apply(c)) => {
                assert_eq!(c.metadata.name.as_deref(), Some("c"));
                break;
            }
            Err(watcher::Error::WatchFailed(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }

    // Expiry: ERROR 410 inside an HTTP 200, then a full relist.
    server.expire();
    let Err(watcher::Error::WatchError(status)) = next().await else { panic!("expected 410") };
    assert_eq!(status.code, 410);
    assert!(matches!(next().await, Ok(Event::Init)));
    let mut relisted = 0;
    while let Ok(Event::InitApply(_)) = next().await {
        relisted += 1;
    }
    assert_eq!(relisted, 3);
}

#[tokio::test]
async fn secrets_are_selected_by_type_field() {
    let server = ApiServer::start().await.unwrap();
    for (name, type_) in [("tls", "kubernetes.io/tls"), ("opaque", "Opaque")] {
        server.apply(&Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            type_: Some(type_.into()),
            ..Default::default()
        });
    }
    let api: Api<Secret> = Api::all(client(&server, "t").await);
    let wc = watcher::Config::default().fields("type=kubernetes.io/tls");
    let stream = watcher::watcher(api, wc).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut seen = Vec::new();
    let collect = async {
        while let Some(Ok(event)) = stream.next().await {
            match event {
                Event::InitApply(s) => seen.push(s.metadata.name.unwrap()),
                Event::InitDone => break,
                _ => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, collect).await.unwrap();
    assert_eq!(seen, ["tls"]);
}

#[tokio::test]
async fn stale_replace_conflicts_and_injected_faults_answer_as_status() {
    let server = ApiServer::start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&server, "t").await, "default");
    let created = api.create(&PostParams::default(), &config_map("x", "1")).await.unwrap();
    let mut update = created.clone();
    update.data = Some([("v".to_string(), "2".to_string())].into());
    api.replace("x", &PostParams::default(), &update).await.unwrap();
    let kube::Error::Api(status) =
        api.replace("x", &PostParams::default(), &update).await.unwrap_err()
    else {
        panic!("expected an API error")
    };
    assert_eq!(status.code, 409);
    server.fail_next(Some("GET"), "/configmaps/x", 500, 1);
    let kube::Error::Api(status) = api.get("x").await.unwrap_err() else { panic!("expected 500") };
    assert_eq!(status.code, 500);
    // kube's client retries a 503 on its own.
    server.fail_next(Some("GET"), "/configmaps/x", 503, 1);
    assert!(api.get("x").await.is_ok());
    assert_eq!(server.requests().iter().filter(|r| r.status == 503).count(), 1);
    assert_eq!(api.get("x").await.unwrap().data.unwrap()["v"], "2");
    server.forbid("configmaps");
    let kube::Error::Api(status) = api.list(&ListParams::default()).await.unwrap_err() else {
        panic!("expected 403")
    };
    assert!(status.is_forbidden());
    assert_eq!(server.requests().last().unwrap().user.as_deref(), Some("t"));
}

#[tokio::test]
async fn watches_carry_bookmarks_and_end_at_their_timeout() {
    use kube::api::{WatchEvent, WatchParams};
    let server = ApiServer::start_with_bookmarks(Duration::from_millis(20)).await.unwrap();
    server.apply(&config_map("a", "1"));
    let rv = server.resource_version().to_string();
    let api: Api<ConfigMap> = Api::namespaced(client(&server, "t").await, "default");
    let params = WatchParams { bookmarks: true, ..WatchParams::default() }.timeout(1);
    let mut stream = std::pin::pin!(api.watch(&params, &rv).await.unwrap());
    let mut bookmarks = 0;
    let read = async {
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                WatchEvent::Bookmark(b) => {
                    assert_eq!(b.metadata.resource_version, rv);
                    bookmarks += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    // The server ends the watch after timeoutSeconds=1.
    tokio::time::timeout(DEADLINE, read).await.unwrap();
    assert!(bookmarks > 0);
    // Without allowWatchBookmarks, none are sent.
    server.apply(&config_map("b", "2"));
    let params = WatchParams { bookmarks: false, ..WatchParams::default() }.timeout(1);
    let events: Vec<_> = api.watch(&params, &rv).await.unwrap().collect().await;
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Ok(WatchEvent::Added(_))));
}

/// Discovery answers as a cluster's does, so kube's discovery (and kubectl)
/// find every kind served; a strategic merge patch (kubectl apply) lands
/// as a merge without its `$` directives.
#[tokio::test]
async fn discovery_and_strategic_merge_patch() {
    use kube::api::{Patch, PatchParams};
    use kube::discovery::Discovery;
    let server = ApiServer::start().await.unwrap();
    let client = client(&server, "t").await;
    let discovery = tokio::time::timeout(DEADLINE, Discovery::new(client.clone()).run())
        .await
        .unwrap()
        .unwrap();
    let mut kinds: Vec<String> = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .map(|(r, _)| format!("{}/{}", r.api_version, r.kind))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "coordination.k8s.io/v1/Lease",
            "discovery.k8s.io/v1/EndpointSlice",
            "networking.k8s.io/v1/Ingress",
            "networking.k8s.io/v1/IngressClass",
            "v1/ConfigMap",
            "v1/Event",
            "v1/Namespace",
            "v1/Secret",
            "v1/Service",
        ]
    );

    server.apply(&config_map("cm", "old"));
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let patch = serde_json::json!({
        "data": {"v": "new", "w": "added"},
        "$setElementOrder/items": [{"key": "v"}],
        "metadata": {"labels": {"l": "1"}, "$retainKeys": ["labels"]}
    });
    let patched = api.patch("cm", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let data = patched.data.unwrap();
    assert_eq!(data["v"], "new");
    assert_eq!(data["w"], "added");
    let stored = server.get::<ConfigMap>("default", "cm").unwrap();
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains('$'), "directives are not stored: {text}");
    assert_eq!(stored.metadata.labels.unwrap()["l"], "1");
}
