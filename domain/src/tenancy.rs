//! What keeps tenants apart: the gateway-wide rules every Requestor is held to (set by
//! whoever runs the gateway, never by a tenant), which Secrets a Requestor may name, and
//! who holds a path when two Requestors route the same one.

use std::net::IpAddr;

use linkgate_crds::Requestor;

/// Gateway-wide rules a Requestor's spec is checked against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Each Requestor names only Secrets meant for it (see [`secret_is_for`]): set where
    /// tenants write their own Requestors (Kubernetes mode).
    pub own_secrets_only: bool,
    /// Plain-http outbound URLs are allowed when their host is loopback (tests, the demo).
    /// Anything else must be https, always.
    pub loopback_http: bool,
}

impl Bounds {
    /// Why `url`, an address the gateway will call, is refused.
    pub fn check_outbound(&self, url: &url::Url) -> Result<(), String> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.loopback_http && is_loopback(url) => Ok(()),
            "http" => Err(format!(
                "must be https (plain http is allowed only to loopback, with {LOOPBACK_HTTP_SETTING})"
            )),
            other => Err(format!("scheme {other:?} is not https")),
        }
    }
}

/// The gateway setting that allows plain http to loopback, as error messages name it.
pub const LOOPBACK_HTTP_SETTING: &str = "insecureLoopbackHttp";

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether the Secret `secret` is meant for `requestor`: its name is the requestor's name,
/// a dot, and anything. Requestor names are DNS labels (no dots), so no name is meant for
/// two requestors, and a Secret without a dot (the gateway's own) is meant for none.
pub fn secret_is_for(requestor: &str, secret: &str) -> bool {
    secret
        .strip_prefix(requestor)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| !rest.is_empty())
}

/// Whether two route prefixes claim some path in common: equal, or one inside the other
/// on whole segments (`/news` holds `/news/live`, not `/newsroom`).
pub fn prefixes_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    let inside = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    inside(a, b) || inside(b, a)
}

/// A path claimed by two requestors: the claimant's prefix, and the holder and its prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteClash {
    pub prefix: String,
    pub holder: String,
    pub held: String,
}

/// The first of `claimant`'s prefixes that overlaps one of the holders' (each a requestor
/// name and its prefixes). Callers pass as holders the requestors that come first — in a
/// cluster the older ones (creation time, then name), as Gateway API routes are ordered —
/// so a newcomer can never take paths already routed.
pub fn route_clash<'a>(
    claimant: impl IntoIterator<Item = &'a str> + Clone,
    holders: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
) -> Option<RouteClash> {
    holders.into_iter().find_map(|(holder, held)| {
        held.iter().find_map(|held| {
            claimant
                .clone()
                .into_iter()
                .find(|prefix| prefixes_overlap(prefix, held))
                .map(|prefix| RouteClash {
                    prefix: prefix.to_owned(),
                    holder: holder.to_owned(),
                    held: (*held).to_owned(),
                })
        })
    })
}

/// The first of `prefixes` (the routes `claimant` claims) that an older Requestor among
/// `all` routes: paths go to the oldest claimant, by creation time then name, as Gateway
/// API routes are ordered. `all` may include the claimant.
pub fn clash_with_older<'a>(
    claimant: &'a Requestor,
    prefixes: &[&str],
    all: impl IntoIterator<Item = &'a Requestor>,
) -> Option<RouteClash> {
    route_clash(
        prefixes.iter().copied(),
        older_than(claimant, all).map(|r| {
            let held = r.spec.routes.iter().map(|route| route.prefix.as_str());
            (
                r.metadata.name.as_deref().unwrap_or_default(),
                held.collect(),
            )
        }),
    )
}

/// The older Requestor among `all` that already answers to `id`, the Adobe requestor ID
/// `claimant` declares, by declaring it too or by its name: IDs go to the oldest claimant,
/// as paths do, so one tenant cannot take another's clients by claiming its ID.
pub fn id_holder<'a>(
    claimant: &'a Requestor,
    id: Option<&str>,
    all: impl IntoIterator<Item = &'a Requestor>,
) -> Option<String> {
    let id = id?;
    let answers_to = |r: &Requestor| {
        let declared = r
            .spec
            .adobe
            .as_ref()
            .and_then(|a| a.requestor_id.as_deref());
        r.metadata.name.as_deref() == Some(id) || declared == Some(id)
    };
    older_than(claimant, all)
        .find(|r| answers_to(r))
        .and_then(|r| r.metadata.name.clone())
}

/// The Requestors of `all` that come before `claimant` (creation time, then name), oldest
/// first.
fn older_than<'a>(
    claimant: &'a Requestor,
    all: impl IntoIterator<Item = &'a Requestor>,
) -> impl Iterator<Item = &'a Requestor> {
    let precedence = |r: &'a Requestor| (&r.metadata.creation_timestamp, &r.metadata.name);
    let claimant = precedence(claimant);
    let mut older: Vec<&Requestor> = all
        .into_iter()
        .filter(|r| precedence(r) < claimant)
        .collect();
    older.sort_by_key(|r| precedence(r));
    older.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_urls_are_https_unless_loopback_is_allowed_in_the_open() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let strict = Bounds::default();
        let demo = Bounds {
            loopback_http: true,
            ..Bounds::default()
        };
        assert!(strict.check_outbound(&url("https://idp.example/")).is_ok());
        for loopback in [
            "http://127.0.0.1:9/",
            "http://127.8.0.1/",
            "http://[::1]/",
            "http://localhost/",
        ] {
            assert!(strict.check_outbound(&url(loopback)).is_err(), "{loopback}");
            assert!(demo.check_outbound(&url(loopback)).is_ok(), "{loopback}");
        }
        for elsewhere in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost.example/",
            "http://127.0.0.1.nip.io/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(demo.check_outbound(&url(elsewhere)).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn a_secret_is_meant_for_the_requestor_its_name_starts_with() {
        assert!(secret_is_for("acme", "acme.statements"));
        assert!(secret_is_for("acme", "acme.media-keys"));
        assert!(!secret_is_for("acme", "acme"));
        assert!(!secret_is_for("acme", "acme."));
        assert!(!secret_is_for("acme", "acme-tv.statements"));
        assert!(!secret_is_for("acme-tv", "acme.statements"));
        assert!(!secret_is_for("acme", "linkgate-code-key"));
        assert!(!secret_is_for("acme", "other.acme.key"));
    }

    #[test]
    fn prefixes_overlap_on_whole_segments() {
        assert!(prefixes_overlap("/news", "/news"));
        assert!(prefixes_overlap("/news/", "/news"));
        assert!(prefixes_overlap("/news", "/news/live"));
        assert!(prefixes_overlap("/news/live/", "/news"));
        assert!(prefixes_overlap("/", "/anything"));
        assert!(!prefixes_overlap("/news", "/newsroom"));
        assert!(!prefixes_overlap("/sport", "/news"));
    }

    #[test]
    fn a_newcomer_cannot_claim_a_path_an_earlier_requestor_routes() {
        let holders = || vec![("a", vec!["/sport"]), ("b", vec!["/news", "/weather"])];
        let clash = route_clash(["/films", "/news/secret"], holders()).unwrap();
        assert_eq!(
            clash,
            RouteClash {
                prefix: "/news/secret".into(),
                holder: "b".into(),
                held: "/news".into(),
            }
        );
        assert_eq!(route_clash(["/"], holders()).unwrap().holder, "a");
        assert_eq!(route_clash(["/films", "/newsroom"], holders()), None);
    }

    #[test]
    fn a_requestor_id_goes_to_its_oldest_claimant() {
        let requestor = |name: &str, created: &str, id: Option<&str>| -> Requestor {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {"backend": {}, "adobe": {"requestorId": id}},
            }))
            .unwrap()
        };
        let espn = requestor("espn", "2026-01-01T00:00:00Z", None);
        let first = requestor("first", "2026-01-02T00:00:00Z", Some("ESPN"));
        let second = requestor("second", "2026-01-03T00:00:00Z", Some("ESPN"));
        let same_time = requestor("alpha", "2026-01-03T00:00:00Z", Some("ESPN"));
        let all = [&first, &second, &same_time];
        let holder = |r: &Requestor, all: &[&Requestor]| {
            let id = r
                .spec
                .adobe
                .as_ref()
                .and_then(|a| a.requestor_id.as_deref());
            id_holder(r, id, all.iter().copied())
        };
        assert_eq!(holder(&first, &all), None, "the oldest keeps it");
        assert_eq!(holder(&second, &all).as_deref(), Some("first"));
        // At the same second, the name decides.
        assert_eq!(holder(&same_time, &[&second, &same_time]), None);
        assert_eq!(
            holder(&second, &[&second, &same_time]).as_deref(),
            Some("alpha")
        );
        // An older requestor named as the ID holds it too; no ID, nothing to hold.
        let named = requestor("third", "2026-01-04T00:00:00Z", Some("espn"));
        assert_eq!(holder(&named, &[&espn, &named]).as_deref(), Some("espn"));
        assert_eq!(holder(&espn, &[&espn, &named]), None);
        // Freed once the holder is gone.
        assert_eq!(holder(&second, &[&second]), None);
    }
}
