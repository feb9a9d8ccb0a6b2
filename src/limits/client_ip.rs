//! Who the client is: the TCP peer, unless the peer is a trusted proxy (`server.trusted_proxies`),
//! in which case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Entries left of an untrusted hop were written by the client and are never believed.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;
use ipnet::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address as the rate limits, the metrics allow list and the access log see it.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    resolve(peer, req.headers(), trusted_proxies)
}

/// [`client_ip`] from its parts.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    // Several header lines are one list, in order.
    let hops: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // A garbled entry: nothing left of it can be attributed; the proxy that wrote it is
            // the last address we know.
            return client;
        };
        client = ip;
        if !trusted(&client) {
            return client;
        }
    }
    client
}

/// An address as proxies write it: bare, or with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse::<IpAddr>().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn with_xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_static(FORWARDED_FOR),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["127.0.0.1/32"]);
        let h = with_xff(&["203.0.113.9"]);
        assert_eq!(
            resolve(ip("198.51.100.7"), &h, &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_peer_forwards_the_right_most_untrusted_hop() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client spoofed 6.6.6.6; the edge proxy appended the real address, then an
        // internal proxy appended the edge's.
        let h = with_xff(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn without_forwarding_the_trusted_peer_is_the_client() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbled_entries_and_ports() {
        let trusted = nets(&["127.0.0.1/32", "::1/128"]);
        let h = with_xff(&["203.0.113.1, not-an-ip"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        let h = with_xff(&["198.51.100.7:4711"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let h = with_xff(&["[2001:db8::1]:443"]);
        assert_eq!(resolve(ip("::1"), &h, &trusted), ip("2001:db8::1"));
        // An IPv4 peer seen through an IPv6 socket is still the trusted IPv4 proxy.
        let h = with_xff(&["198.51.100.7"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &h, &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn all_trusted_gives_the_left_most() {
        let trusted = nets(&["127.0.0.0/8"]);
        let h = with_xff(&["127.0.0.5, 127.0.0.6"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.5"));
    }
}
