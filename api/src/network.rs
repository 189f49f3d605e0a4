//! Who is on the other end of a connection: the client's address behind trusted reverse
//! proxies, and the browser origins allowed to call the API (CORS and the socket's `Origin`).

/// Reverse proxies in front of qyzmet (a load balancer, a State Corporation hall's gateway).
/// Only a request that arrives *from* one of them has its client address taken from
/// `header`; anyone else's header is ignored, so a client cannot choose its own address.
#[derive(Clone, Debug, PartialEq)]
pub struct Proxies {
    /// Addresses or CIDR ranges of the trusted proxies.
    pub trusted: Vec<ipnet::IpNet>,
    /// The header they set, `X-Forwarded-For` style: a comma-separated list, the client first.
    pub header: String,
}

impl Default for Proxies {
    fn default() -> Self {
        Proxies {
            trusted: Vec::new(),
            header: "X-Forwarded-For".to_owned(),
        }
    }
}

/// Which browser origins may call the API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origins {
    /// Exact origins, e.g. `https://clerk.example.kz`.
    pub exact: Vec<String>,
    /// Development mode: any `http://localhost[:port]` or `http://127.0.0.1[:port]` too.
    pub localhost: bool,
}

impl Origins {
    /// The configured origins (`cors_origins`), and the localhost ones in development mode.
    pub fn new(configured: &[String], dev: bool) -> Origins {
        Origins {
            exact: configured
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
            localhost: dev,
        }
    }

    /// Whether a browser on `origin` may call the API.
    pub fn allows(&self, origin: &str) -> bool {
        if self.exact.iter().any(|o| o == origin) {
            return true;
        }
        self.localhost
            && ["http://localhost", "http://127.0.0.1"].iter().any(|h| {
                origin == *h
                    || origin
                        .strip_prefix(h)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .is_some_and(|port| {
                            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                        })
            })
    }
}

impl Proxies {
    fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// right-most address in the header that is not itself a trusted proxy (each proxy appends
    /// the address it received from).
    pub fn client_addr(
        &self,
        peer: Option<std::net::IpAddr>,
        header: Option<&str>,
    ) -> Option<std::net::IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let forwarded = header
            .into_iter()
            .flat_map(|h| h.split(','))
            .rev()
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .find(|ip| !self.trusts(*ip));
        Some(forwarded.unwrap_or(peer))
    }
}

/// Addresses or CIDR ranges; `Err` names the first item that is neither.
pub fn parse_proxies(items: &[String]) -> Result<Vec<ipnet::IpNet>, String> {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| s.to_owned())
        })
        .collect()
}

/// The client's address for throttling: the peer's, or — behind a trusted proxy — the one the
/// proxy names (see `network::Proxies`).
pub fn client_addr(req: &actix_web::HttpRequest) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let addr = match req.app_data::<actix_web::web::Data<Proxies>>() {
        Some(p) => p.client_addr(
            peer,
            req.headers()
                .get(p.header.as_str())
                .and_then(|v| v.to_str().ok()),
        ),
        None => peer,
    };
    addr.map(|a| a.to_string()).unwrap_or_default()
}

/// The origin a request came to, for printing in documents when `public_url` is not set
/// (development only: start-up requires it otherwise). Forwarded headers (`Forwarded`,
/// `X-Forwarded-Host`, `X-Forwarded-Proto`) count only from a trusted proxy; anyone else's are
/// ignored, so a client cannot choose the origin printed in a QR code. A host that is not a
/// plain host name or address (with an optional port), or longer than 255 characters, gives
/// `http://localhost`.
pub fn request_origin(req: &actix_web::HttpRequest) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = match (req.app_data::<actix_web::web::Data<Proxies>>(), peer) {
        (Some(p), Some(ip)) => p.trusts(ip),
        _ => false,
    };
    let (scheme, host) = if trusted {
        let info = req.connection_info();
        (info.scheme().to_owned(), info.host().to_owned())
    } else {
        let host = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ("http".to_owned(), host)
    };
    origin_of(&scheme, &host)
}

/// `scheme://host` when both are plain; `http://localhost` otherwise.
fn origin_of(scheme: &str, host: &str) -> String {
    let plain_host = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let scheme = if scheme == "https" { "https" } else { "http" };
    if plain_host {
        format!("{scheme}://{host}")
    } else {
        "http://localhost".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let p = Proxies {
            trusted: parse_proxies(&["10.0.0.0/8".into(), "192.168.1.1".into()]).expect("valid"),
            header: "X-Forwarded-For".into(),
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
        // Anyone else's header is ignored.
        assert_eq!(p.client_addr(ip("8.8.8.8"), Some("1.2.3.4")), ip("8.8.8.8"));
        // From the proxy: the right-most address that is not a proxy.
        assert_eq!(
            p.client_addr(ip("10.1.2.3"), Some("6.6.6.6, 5.5.5.5, 192.168.1.1")),
            ip("5.5.5.5")
        );
        // A proxy without the header: the proxy itself.
        assert_eq!(p.client_addr(ip("10.1.2.3"), None), ip("10.1.2.3"));
        assert!(parse_proxies(&["not an address".into()]).is_err());
    }

    #[test]
    fn the_printed_origin_follows_forwarded_headers_only_from_a_trusted_proxy() {
        use actix_web::test::TestRequest;
        let proxies = actix_web::web::Data::new(Proxies {
            trusted: parse_proxies(&["10.0.0.1".into()]).expect("valid"),
            header: "X-Forwarded-For".into(),
        });
        let request = |peer: &str, forwarded: &str| {
            TestRequest::default()
                .peer_addr(peer.parse().expect("address"))
                .insert_header(("host", "127.0.0.1:8080"))
                .insert_header(("x-forwarded-host", forwarded))
                .insert_header(("x-forwarded-proto", "https"))
                .app_data(proxies.clone())
                .to_http_request()
        };
        assert_eq!(
            request_origin(&request("8.8.8.8:1000", "evil.example")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            request_origin(&request("10.0.0.1:1000", "qyzmet.kz")),
            "https://qyzmet.kz"
        );
        assert_eq!(
            request_origin(&request("10.0.0.1:1000", &"a".repeat(3000))),
            "http://localhost"
        );
    }

    #[test]
    fn only_plain_hosts_make_an_origin() {
        assert_eq!(origin_of("http", "127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("https", "qyzmet.kz"), "https://qyzmet.kz");
        assert_eq!(origin_of("http", "[::1]:8080"), "http://[::1]:8080");
        for bad in [
            "",
            "evil.example/verify?x=",
            "a b",
            &"a".repeat(3000),
            "x\u{202E}y",
        ] {
            assert_eq!(origin_of("http", bad), "http://localhost", "{bad:?}");
        }
        assert_eq!(origin_of("javascript", "x"), "http://x");
    }
}
