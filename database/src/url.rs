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
}
