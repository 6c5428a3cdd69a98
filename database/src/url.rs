/// A database URL, which may carry a password: no printed form of it shows it.
#[derive(serde::Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: String) -> Self {
        Self(url)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A URL of the `postgres://` form naming several hosts, as one URL per host (in the
    /// order given, each with everything else of the original); `None` for one host or
    /// another form.
    pub fn each_host(&self) -> Option<Vec<DatabaseUrl>> {
        let (scheme, rest) = self.0.split_once("://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        let hosts: Vec<&str> = hosts.split(',').collect();
        (hosts.len() > 1).then(|| {
            hosts
                .iter()
                .map(|host| DatabaseUrl(format!("{scheme}://{user}{host}{tail}")))
                .collect()
        })
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    #[test]
    fn no_printed_form_shows_the_password() {
        let url: DatabaseUrl = "postgres://linkgate:s3cret@db:5432/links".parse().unwrap();
        assert_eq!(url.expose(), "postgres://linkgate:s3cret@db:5432/links");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(!format!("{:?}", Some(url)).contains("s3cret"));
    }

    #[test]
    fn a_url_of_several_hosts_is_one_url_per_host() {
        let url = DatabaseUrl::new(
            "postgres://u:p%40ss@db-a:5432,[::1]:5433,db-c/links?target_session_attrs=read-write"
                .into(),
        );
        let each = |url: &DatabaseUrl| -> Vec<String> {
            let hosts = url.each_host().unwrap();
            hosts.iter().map(|u| u.expose().to_owned()).collect()
        };
        assert_eq!(
            each(&url),
            [
                "postgres://u:p%40ss@db-a:5432/links?target_session_attrs=read-write",
                "postgres://u:p%40ss@[::1]:5433/links?target_session_attrs=read-write",
                "postgres://u:p%40ss@db-c/links?target_session_attrs=read-write",
            ]
        );
        let bare = DatabaseUrl::new("postgresql://a,b?dbname=links".into());
        assert_eq!(
            each(&bare),
            ["postgresql://a?dbname=links", "postgresql://b?dbname=links"]
        );
        assert!(
            DatabaseUrl::new("postgres://db/links".into())
                .each_host()
                .is_none()
        );
        assert!(
            DatabaseUrl::new("host=a,b dbname=links".into())
                .each_host()
                .is_none()
        );
    }
}
