//! Endpoint addresses the proxy must never forward to, whatever an
//! EndpointSlice says: its own listeners (an EndpointSlice pointing at the
//! admin port would serve `/routes` on the public listener), and — when
//! the endpoints come from a cluster — loopback, link-local (cloud
//! metadata services live at 169.254.169.254), unspecified, broadcast and
//! multicast addresses, none of which is a pod.

use std::net::{IpAddr, SocketAddr};

/// What the compiler refuses as an endpoint. The default refuses nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointGuard {
    /// The proxy's own listening addresses (HTTP, HTTPS, admin, health).
    /// An unspecified address (`0.0.0.0`, `::`) stands for every local
    /// address: loopback and [`local_addresses`](Self::local_addresses).
    pub listeners: Vec<SocketAddr>,
    /// The addresses of this host's interfaces (the pod's, or the node's
    /// on the host network), for listeners on an unspecified address;
    /// `ringress run` lists them (getifaddrs) when a listener is one.
    pub local_addresses: Vec<IpAddr>,
    /// Refuse loopback, link-local, unspecified, broadcast and multicast
    /// endpoints (`--kubernetes`; a manifests directory on one machine
    /// routes to loopback on purpose).
    pub refuse_host_local: bool,
}

/// An IPv4-mapped IPv6 address as the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Loopback, link-local, unspecified, broadcast or multicast: why, if so.
fn host_local(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) if v4.is_loopback() => Some("loopback"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("link-local"),
        IpAddr::V4(v4) if v4.is_unspecified() => Some("unspecified"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("broadcast"),
        IpAddr::V4(v4) if v4.is_multicast() => Some("multicast"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
        // fe80::/10
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some("link-local"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("multicast"),
        _ => None,
    }
}

impl EndpointGuard {
    /// Why `addr` must not be an endpoint, or `None` when it may.
    pub fn refusal(&self, addr: SocketAddr) -> Option<&'static str> {
        let ip = canonical(addr.ip());
        let is_local = |ip: IpAddr| {
            ip.is_loopback()
                || ip.is_unspecified()
                || self.local_addresses.iter().any(|&l| canonical(l) == ip)
        };
        let own = self.listeners.iter().any(|l| {
            let lip = canonical(l.ip());
            l.port() == addr.port() && (lip == ip || (lip.is_unspecified() && is_local(ip)))
        });
        if own {
            return Some("one of ringress's own listeners");
        }
        if self.refuse_host_local {
            return host_local(ip);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A listener on a concrete address is refused at that address and
    /// port only.
    #[test]
    fn own_listener_on_a_concrete_address() {
        let g = EndpointGuard { listeners: vec![addr("127.0.0.1:9901")], ..Default::default() };
        assert!(g.refusal(addr("127.0.0.1:9901")).is_some());
        assert!(g.refusal(addr("[::ffff:127.0.0.1]:9901")).is_some());
        assert_eq!(g.refusal(addr("127.0.0.1:9902")), None);
        assert_eq!(g.refusal(addr("10.0.0.1:9901")), None);
    }

    /// A listener on 0.0.0.0 (or ::) is every local address on its port:
    /// loopback, unspecified and the host's interface addresses.
    #[test]
    fn own_listener_on_every_address() {
        let g = EndpointGuard {
            listeners: vec![addr("0.0.0.0:8080"), addr("[::]:8443")],
            local_addresses: vec!["10.1.2.3".parse().unwrap(), "fd00::7".parse().unwrap()],
            refuse_host_local: false,
        };
        for refused in ["127.0.0.1:8080", "127.9.9.9:8080", "10.1.2.3:8080", "0.0.0.0:8080"] {
            assert!(g.refusal(addr(refused)).is_some(), "{refused}");
        }
        assert!(g.refusal(addr("[fd00::7]:8443")).is_some());
        assert!(g.refusal(addr("[::1]:8443")).is_some());
        assert_eq!(g.refusal(addr("10.1.2.4:8080")), None);
        assert_eq!(g.refusal(addr("10.1.2.3:8081")), None);
    }

    /// With `--kubernetes`, addresses that are never a pod are refused;
    /// without it, loopback is a normal endpoint.
    #[test]
    fn host_local_ranges_only_when_asked() {
        let k = EndpointGuard { refuse_host_local: true, ..Default::default() };
        for (a, why) in [
            ("127.0.0.1:80", "loopback"),
            ("[::1]:80", "loopback"),
            ("169.254.169.254:80", "link-local"),
            ("[fe80::1]:80", "link-local"),
            ("[febf::1]:80", "link-local"),
            ("0.0.0.0:80", "unspecified"),
            ("[::]:80", "unspecified"),
            ("255.255.255.255:80", "broadcast"),
            ("224.0.0.1:80", "multicast"),
            ("[ff02::1]:80", "multicast"),
            ("[::ffff:169.254.169.254]:80", "link-local"),
        ] {
            assert_eq!(k.refusal(addr(a)), Some(why), "{a}");
        }
        for ok in ["10.0.0.1:80", "[fd00::1]:80", "[fec0::1]:80", "192.168.1.1:80"] {
            assert_eq!(k.refusal(addr(ok)), None, "{ok}");
        }
        let m = EndpointGuard::default();
        assert_eq!(m.refusal(addr("127.0.0.1:80")), None);
    }

    /// Through the compiler: a Service whose EndpointSlice names the
    /// admin listener compiles to a backend without that endpoint (503
    /// when nothing is left), with a warning naming the address; a
    /// Service with another endpoint beside it keeps that one.
    #[test]
    fn a_refused_endpoint_leaves_its_route_answering_503() {
        let yaml = |addresses: &str| {
            format!(
                "
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: ringress}}
spec: {{controller: ringress.io/ingress-controller}}
---
apiVersion: v1
kind: Service
metadata: {{name: pivot, namespace: default}}
spec: {{ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: pivot-x
  namespace: default
  labels: {{kubernetes.io/service-name: pivot}}
addressType: IPv4
ports: [{{port: 9901}}]
endpoints: [{{addresses: [{addresses}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: pivot, namespace: default}}
spec:
  ingressClassName: ringress
  rules:
  - host: pivot.example.com
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: pivot, port: {{number: 80}}}}}}}}]
"
            )
        };
        let options = crate::CompileOptions {
            endpoint_guard: EndpointGuard {
                listeners: vec![addr("127.0.0.1:9901")],
                ..Default::default()
            },
            ..Default::default()
        };
        let (t, d) = crate::compile_yaml(&yaml("\"127.0.0.1\""), &options);
        let route = t.route("pivot.example.com", "/routes").expect("the route stays");
        assert!(route.backend.endpoints.is_empty(), "{:?}", route.backend);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(
            d[0].reason.contains("127.0.0.1:9901 (one of ringress's own listeners)"),
            "{}",
            d[0].reason
        );
        assert!(d[0].reason.contains("503"), "{}", d[0].reason);

        let (t, d) = crate::compile_yaml(&yaml("\"127.0.0.1\", \"10.0.0.9\""), &options);
        let route = t.route("pivot.example.com", "/").expect("the route");
        let left: Vec<_> = route.backend.endpoints.iter().map(|e| e.addr).collect();
        assert_eq!(left, [addr("10.0.0.9:9901")]);
        assert!(d[0].reason.contains("the other endpoints serve"), "{}", d[0].reason);
    }
}
