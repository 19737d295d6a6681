//! The Kubernetes client: kube's own service stack, as `Client::try_from`
//! builds it (TLS from the kubeconfig, auth, connect/read/write timeouts,
//! base URI, extra headers, kube's retry policy), except that its TCP
//! connections have keepalive on. kube's `Config` has no keepalive knob,
//! so the stack is assembled here from kube's public layers around a
//! hyper-util connector that sets it. kube's tracing layer (debug spans,
//! and an error line for each failed request, which the watch loop logs
//! itself) is left out.
//!
//! Why keepalive: a watch is a long-lived connection that may carry nothing
//! for minutes. If the API server's host dies, or a NAT or load balancer in
//! between forgets the connection, no FIN or RST ever arrives and the read
//! timeout (295 s, longer than a watch's own timeout) is the only way out.
//! Keepalive probes after [`KEEPALIVE_IDLE`] (30 s) of silence, every
//! [`KEEPALIVE_INTERVAL`] (10 s), [`KEEPALIVE_RETRIES`] (3) times, find a
//! dead peer in about a minute; 30 s is also under the idle timeout of
//! common cloud load balancers and NATs (350 s on AWS NAT gateways, 4 min
//! on Azure), so an idle watch is not dropped by them in the first place.
//! The probes cost one empty segment per 30 s per connection.

use std::time::Duration;

use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt};
use kube::{Client, Config};
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

/// Silence before the first keepalive probe.
pub(super) const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Between unanswered probes.
pub(super) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection is dropped.
pub(super) const KEEPALIVE_RETRIES: u32 = 3;

/// A client for `config`, its connections with TCP keepalive.
pub(super) fn build(config: Config) -> Result<Client, kube::Error> {
    if config.proxy_url.is_some() {
        // kube's own stack knows proxies (or refuses them precisely).
        return Client::try_from(config);
    }
    // As kube does: the process-wide rustls provider unless one is set.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_keepalive(Some(KEEPALIVE_IDLE));
    http.set_keepalive_interval(Some(KEEPALIVE_INTERVAL));
    http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
    let https = config.rustls_https_connector_with_connector(http)?;
    let mut connector = TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let client: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.default_retry.then(|| RetryLayer::new(RetryPolicy::server_retry())))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(client);
    Ok(ClientBuilder::new(service, config.default_namespace).build())
}
