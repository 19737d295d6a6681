//! `ringress demo`: run ringress on the bundled example manifests with
//! tiny bundled upstreams listening where the example EndpointSlices point,
//! and print curl commands to try. It takes the listener flags of
//! `ringress run` and starts through the same [`serve::run`]; stops on
//! Ctrl-C like `ringress run`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::cli::DemoArgs;
use crate::config::{Config, Source};
use crate::listen::{BindError, Listeners};
use crate::manifests;
use crate::serve::{self, RunError};

/// Start the demo and serve until SIGINT/SIGTERM.
pub fn run(args: DemoArgs) -> Result<(), RunError> {
    let mut config = Config::new(Source::Manifests(args.manifests.clone()));
    args.listen.apply(&mut config);
    // No load balancer to wait for: Ctrl-C drains at once.
    config.shutdown_delay = std::time::Duration::ZERO;
    let (table, diagnostics) = manifests::load(&args.manifests, &config.compile)?;
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        eprintln!("{d}");
    }
    let mut started = Vec::new();
    for backend in table.backends() {
        for endpoint in backend.endpoints.iter() {
            if endpoint.addr.ip().is_loopback() && !started.contains(&endpoint.addr) {
                let name = backend.key.service.to_string();
                let listener = TcpListener::bind(endpoint.addr).map_err(|source| BindError {
                    what: "demo upstream",
                    addr: endpoint.addr,
                    source,
                })?;
                std::thread::spawn(move || upstream(listener, name));
                started.push(endpoint.addr);
            }
        }
    }
    // Bound before the curl commands are printed, so that they name the
    // ports actually served (port 0 included).
    let listeners = Listeners::bind(&args.listen.addrs())?;
    let addrs = listeners.local_addrs().map_err(RunError::Listen)?;
    let base = format!("http://{}", addrs.http);
    println!("ringress demo: upstreams on {started:?}");
    println!("Try:");
    for vh in table.virtual_hosts() {
        for route in vh.routes() {
            let host = vh.host().to_string().replace('*', "any");
            let path = &route.path;
            println!("  curl -i -H 'Host: {host}' {base}{path}");
            if let (true, Some(https)) = (route.redirect_to_https, addrs.https) {
                println!(
                    "  curl -ik --resolve {host}:{port}:{ip} https://{host}:{port}{path}   # TLS",
                    port = https.port(),
                    ip = https.ip()
                );
            }
        }
    }
    let no_rule = match table.default_route() {
        Some(_) => "no rule matches: the defaultBackend answers",
        None => "no rule matches: 404",
    };
    println!("  curl -i -H 'Host: unknown.example' {base}/      # {no_rule}");
    println!("  curl -s http://{}/routes    # the live table", addrs.admin);
    println!("  curl -s http://{}/metrics", addrs.admin);
    println!("Edit files under {} and the table reloads. Ctrl-C stops.", args.manifests.display());
    serve::run_until_signal(config, listeners)
}

/// A tiny HTTP/1.1 upstream: answers every request with who it is and what
/// it saw.
fn upstream(listener: TcpListener, name: String) {
    let addr = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    for stream in listener.incoming().flatten() {
        let (name, addr) = (name.clone(), addr.clone());
        std::thread::spawn(move || {
            let _ = answer(stream, &name, &addr);
        });
    }
}

fn answer(stream: TcpStream, name: &str, addr: &str) -> std::io::Result<()> {
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if r.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                if n.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if n.to_ascii_lowercase().starts_with("x-") || n.eq_ignore_ascii_case("host") {
                    seen.push_str(&format!("  {}: {}\n", n, v.trim()));
                }
            }
        }
        std::io::copy(&mut (&mut r).take(length as u64), &mut std::io::sink())?;
        let body = format!(
            "hello from {name} ({addr})\nrequest: {}\nheaders seen:\n{seen}",
            request_line.trim_end()
        );
        write!(
            w,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )?;
    }
}
