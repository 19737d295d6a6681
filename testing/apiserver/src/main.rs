//! `ringress-test-apiserver`: the test fixture as a program, to try the
//! Kubernetes provider by hand with `kubectl` and `ringress run
//! --kubernetes`, no cluster needed. Objects live in memory until it stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ringress_test_apiserver::ApiServer;

const USAGE: &str = "usage: ringress-test-apiserver [--listen ADDR] [--kubeconfig FILE]

An in-memory Kubernetes API server for trying ringress by hand (Ingress,
IngressClass, Service, EndpointSlice, Secret, Lease, Event, ConfigMap,
Namespace). Writes a kubeconfig for kubectl and `ringress run --kubernetes`.

  --listen ADDR      address to serve on (default 127.0.0.1:6443)
  --kubeconfig FILE  where to write the kubeconfig (default ./kubeconfig.test)";

fn main() -> ExitCode {
    let mut listen: SocketAddr = "127.0.0.1:6443".parse().expect("a valid address");
    let mut kubeconfig = PathBuf::from("kubeconfig.test");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--listen" | "--kubeconfig" => match args.next() {
                Some(v) => v,
                None => return usage_error(&format!("{arg} needs a value")),
            },
            other => return usage_error(&format!("unknown argument {other:?}")),
        };
        if arg == "--listen" {
            match value.parse() {
                Ok(a) => listen = a,
                Err(_) => return usage_error(&format!("--listen: {value:?} is not an ADDR:PORT")),
            }
        } else {
            kubeconfig = PathBuf::from(value);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ringress-test-apiserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match ApiServer::start_on(listen, Duration::from_secs(10)).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ringress-test-apiserver: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = server.write_kubeconfig(&kubeconfig, "admin") {
            eprintln!("ringress-test-apiserver: cannot write {}: {e}", kubeconfig.display());
            return ExitCode::FAILURE;
        }
        println!("serving the Kubernetes API on {}", server.url());
        println!("kubeconfig written to {}; try:", kubeconfig.display());
        println!("  kubectl --kubeconfig {} apply -f examples/manifests/", kubeconfig.display());
        println!("  ringress run --kubernetes --kubeconfig {}", kubeconfig.display());
        println!("Ctrl-C stops it (objects are kept in memory only).");
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("ringress-test-apiserver: {message}\n\n{USAGE}");
    ExitCode::from(2)
}
