//! `ringress demo`: run ringress on the bundled example manifests with
//! tiny bundled upstreams listening where the example EndpointSlices point,
//! and print curl commands to try. Stops on Ctrl-C like `ringress run`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use clap::Parser;
use ringress_control::CompileOptions;

use crate::cli::{Cli, Command, DemoArgs};
use crate::serve::{self, ServeError};

/// Start the demo and serve until SIGINT/SIGTERM.
pub fn run(args: DemoArgs) -> Result<(), ServeError> {
    let (table, diagnostics) = serve::load(&args.manifests, &CompileOptions::default())?;
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        eprintln!("{d}");
    }
    let mut started = Vec::new();
    for backend in table.backends() {
        for endpoint in backend.endpoints.iter() {
            if endpoint.addr.ip().is_loopback() && !started.contains(&endpoint.addr) {
                let name = backend.key.service.to_string();
                let listener = TcpListener::bind(endpoint.addr).map_err(|source| {
                    ServeError::Bind { what: "demo upstream", addr: endpoint.addr, source }
                })?;
                std::thread::spawn(move || upstream(listener, name));
                started.push(endpoint.addr);
            }
        }
    }
    let base = format!("http://{}", args.http);
    let https_port = args.https.port();
    println!("ringress demo: upstreams on {started:?}");
    println!("Try:");
    for vh in table.virtual_hosts() {
        for route in vh.routes() {
            let host = vh.host().to_string().replace('*', "any");
            let path = &route.path;
            println!("  curl -i -H 'Host: {host}' {base}{path}");
            if route.redirect_to_https {
                println!(
                    "  curl -ik --resolve {host}:{port}:{ip} https://{host}:{port}{path}   # TLS",
                    port = https_port,
                    ip = args.https.ip()
                );
            }
        }
    }
    let no_rule = match table.default_route() {
        Some(_) => "no rule matches: the defaultBackend answers",
        None => "no rule matches: 404",
    };
    println!("  curl -i -H 'Host: unknown.example' {base}/      # {no_rule}");
    println!("  curl -s http://{}/routes    # the live table", args.admin);
    println!("  curl -s http://{}/metrics", args.admin);
    println!("Edit files under {} and the table reloads. Ctrl-C stops.", args.manifests.display());
    let cli = Cli::parse_from([
        "ringress".to_string(),
        "run".to_string(),
        "--manifests".to_string(),
        args.manifests.display().to_string(),
        "--http".to_string(),
        args.http.to_string(),
        "--https".to_string(),
        args.https.to_string(),
        "--admin".to_string(),
        args.admin.to_string(),
        "--workers".to_string(),
        "1".to_string(),
    ]);
    match cli.command {
        Command::Run(run) => serve::run(*run),
        _ => Ok(()),
    }
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
