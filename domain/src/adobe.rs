//! What a requestor's clients written for Adobe Pass REST API v1 need: the requestor ID they
//! send, the keys of their signed calls, the hosts their second screen returns to.

use std::time::Duration;

use linkgate_crds::{
    AdobeCompatSpec, DEFAULT_SIGNED_CALL_WINDOW_SECONDS, MAX_SIGNED_CALL_WINDOW_SECONDS,
};

use super::policy_error::{PolicyError, ReadSecret};
use super::signed_call::SignedApps;

#[derive(Clone, Debug, Default)]
pub struct AdobeCompat {
    /// The requestor ID its clients send, when it is not the name.
    pub requestor_id: Option<String>,
    /// The apps that sign their calls with v1's `Authorization` header.
    pub signed_apps: SignedApps,
    /// Hosts the second screen may send people back to (lower-case).
    redirect_hosts: Vec<String>,
}

impl AdobeCompat {
    pub(crate) fn from_spec(
        spec: Option<&AdobeCompatSpec>,
        secret: &ReadSecret<'_>,
    ) -> Result<Self, PolicyError> {
        let Some(spec) = spec else {
            return Ok(Self::default());
        };
        let window = spec
            .request_time_window_seconds
            .unwrap_or(DEFAULT_SIGNED_CALL_WINDOW_SECONDS);
        if !(1..=MAX_SIGNED_CALL_WINDOW_SECONDS).contains(&window) {
            return Err(PolicyError::Adobe(format!(
                "requestTimeWindowSeconds must be between 1 and {MAX_SIGNED_CALL_WINDOW_SECONDS}, not {window}"
            )));
        }
        let apps = spec
            .signed_apps
            .iter()
            .map(|app| {
                let what = format!("adobe.signedApps {:?}", app.public_key);
                let key = secret(what, &app.secret_ref)?;
                Ok((app.public_key.clone(), key, app.request_uri))
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let signed_apps = SignedApps::new(apps, Duration::from_secs(window.into()))
            .map_err(PolicyError::Adobe)?;
        let redirect_hosts = spec
            .redirect_hosts
            .iter()
            .map(|host| {
                let url = url::Url::parse(&format!("https://{host}/"))
                    .ok()
                    .filter(|u| u.host_str() == Some(host.to_ascii_lowercase().as_str()));
                url.map(|_| host.to_ascii_lowercase()).ok_or_else(|| {
                    PolicyError::Adobe(format!("redirectHosts: {host:?} is not a host name"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            requestor_id: spec.requestor_id.clone(),
            signed_apps,
            redirect_hosts,
        })
    }

    /// The hosts the second screen may send people back to.
    pub fn redirect_hosts(&self) -> impl Iterator<Item = &str> {
        self.redirect_hosts.iter().map(String::as_str)
    }

    /// `url` when the second screen may send people there: http or https, to one of the
    /// requestor's redirect hosts, without credentials in it.
    pub fn return_to(&self, url: &str) -> Option<url::Url> {
        let url = url::Url::parse(url).ok()?;
        let host = url.host_str()?;
        let allowed = matches!(url.scheme(), "https" | "http")
            && url.username().is_empty()
            && url.password().is_none()
            && self.redirect_hosts.iter().any(|h| h == host);
        allowed.then_some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compat(hosts: &[&str]) -> Result<AdobeCompat, PolicyError> {
        let spec = AdobeCompatSpec {
            redirect_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        };
        AdobeCompat::from_spec(Some(&spec), &|_, _| Ok(Vec::new()))
    }

    #[test]
    fn the_second_screen_returns_only_to_the_requestor_s_hosts() {
        let adobe = compat(&["Activate.ESPN.example", "127.0.0.1"]).unwrap();
        for ok in [
            "https://activate.espn.example/done?x=1",
            "http://127.0.0.1:8000/done",
        ] {
            assert!(adobe.return_to(ok).is_some(), "{ok}");
        }
        for refused in [
            "https://evil.example/",
            "https://activate.espn.example.evil.example/",
            "https://user:pw@activate.espn.example/",
            "javascript:alert(1)",
            "//activate.espn.example/",
            "ftp://activate.espn.example/",
        ] {
            assert!(adobe.return_to(refused).is_none(), "{refused}");
        }
        assert!(
            AdobeCompat::default()
                .return_to("https://a.example/")
                .is_none()
        );
    }

    #[test]
    fn redirect_hosts_are_host_names() {
        for bad in ["https://a.example", "a.example/path", "a example", ""] {
            assert!(compat(&[bad]).is_err(), "{bad:?}");
        }
    }
}
