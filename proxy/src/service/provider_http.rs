//! How sign-in speaks to providers: answers from where it asked (no redirects), within a
//! time limit, and no larger than a cap, so that a slow, hostile or broken provider costs a
//! refused sign-in, never a hung request or the gateway's memory.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::reqwest;
use openidconnect::{HttpRequest, HttpResponse};

use super::outbound::{Outbound, Reach};

/// The whole exchange, from connecting to the last byte of the answer.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Discovery documents, key sets and token answers are a few KiB.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a provider gave no usable answer; never names the URL asked.
#[derive(Debug, thiserror::Error)]
pub enum ProviderHttpError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("its answer is over {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("its answer is malformed")]
    Malformed,
    #[error("it answered with status {0}")]
    Status(u16),
    #[error("not called: {0}")]
    Refused(String),
}

/// Clients for the URLs the configuration names and for those learned from a provider's
/// documents, each reaching only the addresses its kind may (see `outbound`).
pub struct ProviderHttp {
    configured: reqwest::Client,
    learned: reqwest::Client,
    outbound: Arc<Outbound>,
}

/// The provider client for one configured URL (an issuer, a metadata URL): what is on its
/// origin is called as configured, anything else as learned.
pub struct Scoped<'a> {
    http: &'a ProviderHttp,
    origin: url::Origin,
}

impl ProviderHttp {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        let client = |reach| {
            let builder = reqwest::ClientBuilder::new()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT);
            outbound
                .guard(builder, reach)
                .build()
                .expect("a default HTTP client builds")
        };
        Self {
            configured: client(Reach::Configured),
            learned: client(Reach::Learned),
            outbound,
        }
    }

    /// Calls made on behalf of the configured `url`.
    pub fn scoped(&self, url: &url::Url) -> Scoped<'_> {
        Scoped {
            http: self,
            origin: url.origin(),
        }
    }

    async fn exchange(
        &self,
        request: HttpRequest,
        origin: &url::Origin,
    ) -> Result<HttpResponse, ProviderHttpError> {
        let unreachable =
            |e: reqwest::Error| ProviderHttpError::Unreachable(e.without_url().to_string());
        let request = reqwest::Request::try_from(request).map_err(unreachable)?;
        let reach = match request.url().origin() == *origin {
            true => Reach::Configured,
            false if request.url().scheme() == "https" => Reach::Learned,
            false => return Err(ProviderHttpError::Refused("a learned URL not https".into())),
        };
        self.outbound
            .check_literal(request.url(), reach)
            .map_err(|refused| ProviderHttpError::Refused(refused.to_string()))?;
        let client = match reach {
            Reach::Configured => &self.configured,
            Reach::Learned => &self.learned,
        };
        let mut response = client.execute(request).await.map_err(unreachable)?;
        let mut answer = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ProviderHttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        answer.body(body).map_err(|_| ProviderHttpError::Malformed)
    }

    /// The body of a successful GET of the configured `url` (a SAML provider's metadata).
    pub async fn get(&self, url: url::Url) -> Result<Vec<u8>, ProviderHttpError> {
        let request = http::Request::get(url.as_str())
            .body(Vec::new())
            .map_err(|_| ProviderHttpError::Malformed)?;
        let answer = self.exchange(request, &url.origin()).await?;
        if !answer.status().is_success() {
            return Err(ProviderHttpError::Status(answer.status().as_u16()));
        }
        Ok(answer.into_body())
    }
}

/// The `openidconnect` crate's HTTP client.
impl<'c> openidconnect::AsyncHttpClient<'c> for Scoped<'_> {
    type Error = ProviderHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.http.exchange(request, &self.origin))
    }
}
