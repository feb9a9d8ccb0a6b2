//! Who a request comes from: the socket peer, unless the peer is one of `server.trusted_proxies`,
//! in which case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (the
//! left-most if all are). A header sent by an untrusted peer is ignored, so nobody can pick the
//! address their requests are counted against by sending one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use actix_web::{HttpMessage, HttpRequest};
use ipnet::IpNet;

/// The client address a request is attributed to (rate limits, logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// The client of `req`: what the guard middleware recorded, or resolved from the request now
/// (routes outside the guard, tests).
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> IpAddr {
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
        return *ip;
    }
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    resolve(peer, forwarded, trusted)
}

/// The client behind `peer`, given the request's `X-Forwarded-For` values (every header line,
/// in order) and the trusted proxies.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    // Each trusted hop appended the address it saw; walk back through them to the first
    // address no trusted proxy vouches for.
    let mut nearest = peer;
    for entry in entries.iter().rev() {
        match parse_entry(entry) {
            Some(ip) if is_trusted(ip, trusted) => nearest = ip,
            Some(ip) => return ip,
            // Garbage where a trusted proxy should have written an address: believe nothing
            // further left of it.
            None => return nearest,
        }
    }
    nearest
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: a bare address, or one with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), or a bracketed IPv6 address.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim_matches('"');
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

/// What rate limits count against: the address itself for IPv4, its /64 network for IPv6
/// (one subscriber usually holds a whole /64, and counting single addresses would let one
/// client rotate through 2^64 of them).
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(ip("203.0.113.9"), ["10.1.1.1"], &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_peer_yields_the_right_most_untrusted_entry() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        assert_eq!(
            resolve(peer, ["198.51.100.7, 203.0.113.5, 10.0.0.2"], &trusted),
            ip("203.0.113.5"),
            "the client-written 198.51.100.7 is not believed"
        );
        assert_eq!(
            resolve(peer, ["198.51.100.7", "203.0.113.5"], &trusted),
            ip("203.0.113.5"),
            "several header lines read as one list"
        );
        assert_eq!(
            resolve(peer, ["10.0.0.9, 10.0.0.2"], &trusted),
            ip("10.0.0.9"),
            "all trusted: the left-most"
        );
        assert_eq!(resolve(peer, [], &trusted), peer);
        assert_eq!(resolve(peer, [" , "], &trusted), peer);
    }

    #[test]
    fn entries_with_ports_and_brackets() {
        let trusted = nets(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        assert_eq!(resolve(peer, ["1.2.3.4:5678"], &trusted), ip("1.2.3.4"));
        assert_eq!(
            resolve(peer, ["[2001:db8::1]:443"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(peer, ["[2001:db8::1]"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(peer, ["::ffff:1.2.3.4"], &trusted),
            ip("1.2.3.4"),
            "mapped IPv4 is IPv4"
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_nearest_known_hop() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), ["1.2.3.4, unknown, 10.0.0.3"], &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), ["<script>"], &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn mapped_peer_is_matched_as_ipv4() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), ["1.2.3.4"], &trusted),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        assert_eq!(rate_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(rate_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(rate_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn a_request_resolves_through_its_peer_and_headers() {
        use actix_web::test::TestRequest;
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let req = |peer: &str| {
            TestRequest::default()
                .peer_addr(format!("{peer}:5000").parse().unwrap())
                .insert_header(("X-Forwarded-For", "6.6.6.6, 10.0.0.9"))
                .to_http_request()
        };
        assert_eq!(
            client_ip(&req("127.0.0.1"), &trusted),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(&req("192.0.2.1"), &trusted),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
