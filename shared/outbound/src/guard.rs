//! The SSRF guard: the webhook client's resolver. Every address a host resolves to is checked
//! ([`is_public`]) and the connection goes only to the addresses that pass, so a name that resolves
//! to the metadata service or a private network is refused, and a DNS answer cannot change between
//! the check and the connection (the connector connects to exactly what the guard returned).

use cg_domain::destinations::address::is_public;
use hyper_util::client::legacy::connect::dns::Name;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The error of a host that resolves to no allowed address.
#[derive(Debug)]
pub struct RefusedAddress(pub String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves only to private, loopback, link-local or reserved addresses",
            self.0
        )
    }
}

impl std::error::Error for RefusedAddress {}

/// Which addresses the client may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Public addresses only (AWS).
    Public,
    /// Any address (the local stack's allowance).
    Any,
    /// This machine only (the local stack with `--no-outbound`): loopback addresses, and of names only
    /// `localhost`. Nothing leaves the machine, not even a DNS query: the test command's fuzzer
    /// creates endpoints with made-up hosts and private addresses, whose lookups and connect
    /// timeouts (on a machine without a network) would otherwise hold every delivery worker.
    LocalOnly,
}

/// Whether an address may be reached.
pub fn allowed(ip: IpAddr, reach: Reach) -> bool {
    match reach {
        Reach::Public => is_public(ip),
        Reach::Any => true,
        Reach::LocalOnly => ip.is_loopback(),
    }
}

/// A resolver that drops refused addresses and fails when none is left.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// What may be reached.
    pub reach: Reach,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let reach = self.reach;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            if reach == Reach::LocalOnly && !host.eq_ignore_ascii_case("localhost") {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    RefusedAddress(host),
                ));
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allowed(a.ip(), reach)).collect();
            if kept.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    RefusedAddress(host),
                ));
            }
            Ok(kept.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_service::Service;

    #[tokio::test]
    async fn names_of_loopback_addresses_are_refused_unless_local() {
        let name: Name = "localhost".parse().unwrap();
        let err = GuardedResolver { reach: Reach::Public }
            .call(name.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("localhost"));
        let ok: Vec<_> = GuardedResolver { reach: Reach::Any }
            .call(name)
            .await
            .unwrap()
            .collect();
        assert!(ok.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn local_only_reaches_this_machine_and_never_asks_dns() {
        let mut local = GuardedResolver {
            reach: Reach::LocalOnly,
        };
        let ok: Vec<_> = local.call("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(!ok.is_empty() && ok.iter().all(|a| a.ip().is_loopback()));
        // Any other name is refused before a lookup: a name no DNS server could answer fails at once.
        let started = std::time::Instant::now();
        for host in ["example.com", "no-such-host.invalid", "hooks.internal"] {
            let err = local.call(host.parse().unwrap()).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{host}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Literal addresses: loopback only, private networks are other machines.
        assert!(allowed("127.0.0.1".parse().unwrap(), Reach::LocalOnly));
        assert!(allowed("::1".parse().unwrap(), Reach::LocalOnly));
        assert!(!allowed("10.1.2.3".parse().unwrap(), Reach::LocalOnly));
        assert!(!allowed("192.168.0.10".parse().unwrap(), Reach::LocalOnly));
        assert!(!allowed("93.184.216.34".parse().unwrap(), Reach::LocalOnly));
    }
}
