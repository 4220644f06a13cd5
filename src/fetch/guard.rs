//! The SSRF guard: which addresses a feed may make us connect to.
//!
//! Host names are checked on the addresses they resolve to, by the DNS
//! resolver the HTTP client connects through, so every hop of a redirect
//! chain and every reconnect is checked; literal IP URLs (which skip DNS)
//! are checked by the fetcher before each request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A connection refused by the guard.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "refused to connect to {addr}: not a public address (set [fetch] allow_private_networks = true to allow)"
)]
pub struct Blocked {
    pub addr: IpAddr,
}

/// Whether `ip` is a public unicast address: not loopback, private
/// (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT
/// (100.64/10), multicast, broadcast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80) // link-local fe80::/10
}

/// Checks a literal IP host; host names are checked at resolution.
pub fn check_host(host: Option<url::Host<&str>>) -> Result<(), Blocked> {
    let addr = match host {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(addr) {
        Ok(())
    } else {
        Err(Blocked { addr })
    }
}

/// A resolver that drops non-public addresses; a name that resolves only
/// to such addresses fails with [`Blocked`].
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.iter().copied().filter(|a| is_public(a.ip())).collect();
            match (public.is_empty(), all.first()) {
                (true, Some(first)) => Err(Box::new(Blocked { addr: first.ip() }) as _),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for (ip, public) in [
            ("93.184.216.34", true),
            ("8.8.8.8", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("100.128.0.1", true),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("0.0.0.0", false),
            ("::1", false),
            ("::", false),
            ("fd00::1", false),
            ("fc00::1", false),
            ("fe80::1", false),
            ("ff02::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("2606:4700::1111", true),
        ] {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }
}
