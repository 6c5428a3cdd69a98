//! The activation page (the second screen): enter the code shown on the TV (or arrive with
//! it, from `verification_uri_complete`), pick a TV provider, sign in there, and the device
//! is linked. Every answer is a page; what goes wrong is said on it.

mod pages;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::response::ApiResponse;
use super::{ApiError, Call};
use crate::service::{ActivationError, Confirmation, Error, Here, Linked, Returned, Started};
use linkgate_domain::code::CodeRecord;
use linkgate_domain::ids::UserId;
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};

/// The cookie carrying the sign-in under way.
const COOKIE: &str = "linkgate_signin";
/// The cookie binding a SAML sign-in to its browser.
const SAML_COOKIE: &str = "linkgate_saml";
/// The cookie holding the browser's secret, to which the confirmation page's token is bound.
const BROWSER_COOKIE: &str = "linkgate_browser";
/// How long a confirmation page may be left open before its form is refused.
const BROWSER_SECONDS: u32 = 3600;

fn html(status: StatusCode, page: String) -> ApiResponse {
    let mut response = Response::new(Bytes::from(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages show codes: not to be kept by caches, nor framed by other sites.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// The requestor's activation page as browsers reach it: under the configured public URL;
/// without one (a demo), this gateway as the browser reached it.
pub(super) fn page_url(call: &Call<'_>) -> String {
    let path = format!("activate/{}", call.requestor.name);
    if let Some(base) = call.activation.public_url() {
        return format!("{}/{path}", base.as_str().trim_end_matches('/'));
    }
    format!("{}/{path}", as_reached(call))
}

/// Where providers send the browser back: under the activation page.
fn here(call: &Call<'_>) -> Here {
    Here::new(page_url(call))
}

/// This gateway as the request reached it: the scheme and the `Host` header.
fn as_reached(call: &Call<'_>) -> String {
    let host = call
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if call.secure { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Where SAML providers reach this gateway: `here`, unless that rests on a `Host` header a
/// client chose, which would let answers addressed to another service provider pass as
/// this one's. A configured public URL, or a loopback host (a demo).
fn saml_here(call: &Call<'_>) -> Option<Here> {
    let loopback = || {
        let host = call.headers.get(header::HOST)?.to_str().ok()?;
        let url = url::Url::parse(&format!("http://{host}")).ok()?;
        Some(match url.host()? {
            url::Host::Domain(name) => name == "localhost",
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        })
    };
    (call.activation.public_url().is_some() || loopback() == Some(true)).then(|| here(call))
}

const SESSION_GONE: &str = "This sign-in is unknown or has expired: start again from the code.";

const NO_PUBLIC_URL: &str = "This TV provider's sign-in is not available here: the gateway's \
                             public URL is not configured.";

/// The SAML cookie's attributes: the provider's answer is a cross-site POST, which carries
/// only a `SameSite=None` cookie, and such a cookie must be `Secure` (browsers take that
/// from http on loopback too).
fn saml_cookie_attributes(call: &Call<'_>, mvpd: &str) -> String {
    format!(
        "Path=/activate/{}/saml/{mvpd}; HttpOnly; SameSite=None; Secure",
        call.requestor.name
    )
}

/// The attributes of a cookie of the activation pages: `Secure` whenever the browser is
/// on https.
fn cookie_attributes(call: &Call<'_>, same_site: &str) -> String {
    let https = call.secure
        || call
            .activation
            .public_url()
            .is_some_and(|u| u.scheme() == "https");
    let secure = if https { "; Secure" } else { "" };
    format!(
        "Path=/activate/{}; HttpOnly; SameSite={same_site}{secure}",
        call.requestor.name
    )
}

fn service_name<'a>(call: &'a Call<'a>) -> &'a str {
    &call.requestor.display_name
}

fn device_name(record: &CodeRecord) -> String {
    match &record.device_type {
        Some(kind) => format!("your {kind} ({})", record.device.as_str()),
        None => format!("your device {}", record.device.as_str()),
    }
}

/// The code as typed, checked: the page naming the device and its providers, or the form
/// again with the reason.
async fn check_code(call: &Call<'_>, typed: &str) -> Result<ApiResponse, ApiError> {
    Ok(match call.linking.find_code(call.requestor, typed).await {
        Ok(record) => confirmation_page(call, &record, typed, None, None, StatusCode::OK),
        Err(Error::CodeNotFound) => {
            let message = "That code is not valid: it may be mistyped, used or expired. \
                           Check the code on your TV (ask it for a new one if needed) and try again.";
            let page = pages::enter_code(call.requestor, typed, Some(message));
            html(StatusCode::NOT_FOUND, page)
        }
        Err(e) => return Err(e.into()),
    })
}

/// GET: the form, or straight to the providers when the link carries the code; POST: the
/// typed code.
pub(super) async fn entry(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let typed = call
        .input
        .get("code")
        .or_else(|| call.input.get("user_code"));
    Ok(match typed {
        Some(code) => check_code(&call, &code).await?,
        None => html(StatusCode::OK, pages::enter_code(call.requestor, "", None)),
    })
}

/// The confirmation page for the code's `record`: the device named, and the providers to
/// sign in with (only `only`, when given), as a form bound to this browser by a token
/// (its secret set in a cookie when it has none). `redirect_url` rides along for Adobe v1.
fn confirmation_page(
    call: &Call<'_>,
    record: &CodeRecord,
    typed: &str,
    only: Option<&str>,
    redirect_url: Option<&str>,
    status: StatusCode,
) -> ApiResponse {
    let providers: Vec<&Mvpd> = call
        .requestor
        .allowed_mvpds()
        .filter(|m| m.signs_in())
        .filter(|m| record.mvpd.as_deref().is_none_or(|chosen| chosen == m.id))
        .filter(|m| only.is_none_or(|only| only == m.id))
        .collect();
    let known = cookie(call, BROWSER_COOKIE).filter(|b| Confirmation::is_browser_secret(b));
    let browser = known.clone().unwrap_or_else(Confirmation::browser_secret);
    let confirmation = call.activation.confirmation();
    let token = confirmation.token(&browser, &call.requestor.name, typed);
    let minutes = call.activation.minutes_since(record.issued_at);
    let asked = match minutes {
        0 => "just now".to_owned(),
        1 => "a minute ago".to_owned(),
        n => format!("{n} minutes ago"),
    };
    let message = (status != StatusCode::OK)
        .then_some("Tick the box to confirm that this device is the one in front of you.");
    let page = pages::confirm(&pages::Confirm {
        requestor: call.requestor,
        device: &device_name(record),
        asked: &asked,
        code: typed,
        token: &token,
        providers: &providers,
        redirect_url,
        message,
    });
    let mut response = html(status, page);
    if known.is_none() {
        let set = format!(
            "{BROWSER_COOKIE}={browser}; Max-Age={BROWSER_SECONDS}; {}",
            cookie_attributes(call, "Strict")
        );
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// The origin browsers reach this gateway at: the public URL's, or the request's own.
fn own_origin(call: &Call<'_>) -> String {
    match call.activation.public_url() {
        Some(base) => base.origin().ascii_serialization(),
        None => as_reached(call),
    }
}

/// Whether the browser says this request was made by another site: `Sec-Fetch-Site`
/// other than `same-origin`, or an `Origin` not this gateway's.
fn from_elsewhere(call: &Call<'_>) -> bool {
    let site = call.headers.get("sec-fetch-site");
    if site.is_some_and(|s| s.as_bytes() != b"same-origin") {
        return true;
    }
    call.headers
        .get(header::ORIGIN)
        .is_some_and(|origin| origin.as_bytes() != own_origin(call).as_bytes())
}

/// The confirmed form: to the chosen provider, with the sign-in sealed in its cookie. Only
/// from this gateway's own page, in the browser it was shown in, ticked.
pub(super) async fn sign_in(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    if from_elsewhere(&call) {
        let message = "This sign-in was started from another site, so it was stopped. To \
                       activate a device, open this page yourself and type the code your TV shows.";
        return Ok(failed(&call, StatusCode::FORBIDDEN, message));
    }
    let code = call.input.require("code")?;
    let mvpd = call.input.require("mvpd")?;
    let redirect_url = call.input.get("redirect_url");
    let return_to = match &redirect_url {
        Some(asked) => match call.requestor.adobe.return_to(asked) {
            Some(to) => Some(to),
            None => return Ok(not_sent_back(&call)),
        },
        None => None,
    };
    let confirmed = cookie(&call, BROWSER_COOKIE).is_some_and(|browser| {
        let token = call.input.get("confirm").unwrap_or_default();
        call.activation
            .confirmation()
            .holds(&browser, &call.requestor.name, &code, &token)
    }) && call.input.get("confirmed").as_deref() == Some("yes");
    if !confirmed {
        // Asked again, on this gateway's page, in this browser.
        return Ok(match call.linking.find_code(call.requestor, &code).await {
            Ok(record) => confirmation_page(
                &call,
                &record,
                &code,
                Some(&mvpd),
                redirect_url.as_deref(),
                StatusCode::BAD_REQUEST,
            ),
            Err(Error::CodeNotFound) => check_code(&call, &code).await?,
            Err(e) => return Err(e.into()),
        });
    }
    start(&call, &code, &mvpd, return_to).await
}

fn not_sent_back(call: &Call<'_>) -> ApiResponse {
    let message = "The page asked to return to an address this service does not send people to.";
    failed(call, StatusCode::BAD_REQUEST, message)
}

/// Adobe v1's second screen, `reg_code` at `mso_id` ending at `redirect_url` (one of the
/// requestor's redirect hosts): the confirmation page, from which the sign-in starts.
pub(super) async fn second_screen(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.input.require("reg_code")?;
    let mvpd = call.input.require("mso_id")?;
    let asked = call.input.require("redirect_url")?;
    if call.requestor.adobe.return_to(&asked).is_none() {
        return Ok(not_sent_back(&call));
    }
    if !call
        .requestor
        .allowed_mvpds()
        .any(|m| m.id == *mvpd && m.signs_in())
    {
        let message = "That TV provider cannot be used here.";
        return Ok(failed(&call, StatusCode::BAD_REQUEST, message));
    }
    Ok(match call.linking.find_code(call.requestor, &code).await {
        Ok(record) => confirmation_page(
            &call,
            &record,
            &code,
            Some(&mvpd),
            Some(&asked),
            StatusCode::OK,
        ),
        Err(Error::CodeNotFound) => check_code(&call, &code).await?,
        Err(e) => return Err(e.into()),
    })
}

/// Starts the sign-in with `code` at `mvpd`; once the device is linked the browser is sent
/// to `return_to`, when given, instead of being shown the outcome.
pub(super) async fn start(
    call: &Call<'_>,
    code: &str,
    mvpd: &str,
    return_to: Option<url::Url>,
) -> Result<ApiResponse, ApiError> {
    if let Err(e) = call.linking.find_code(call.requestor, code).await {
        return match e {
            Error::CodeNotFound => check_code(call, code).await,
            e => Err(e.into()),
        };
    }
    let Some(mvpd) = call
        .requestor
        .allowed_mvpds()
        .find(|m| m.id == mvpd && m.signs_in())
    else {
        return Ok(failed(
            call,
            StatusCode::BAD_REQUEST,
            "That TV provider cannot be used here.",
        ));
    };
    let here = match (&mvpd.saml, saml_here(call)) {
        (Some(_), None) => return Ok(failed(call, StatusCode::SERVICE_UNAVAILABLE, NO_PUBLIC_URL)),
        (Some(_), Some(here)) => here,
        (None, _) => here(call),
    };
    match call
        .activation
        .begin(call.requestor, code, mvpd, &here, return_to)
        .await
    {
        Ok(Started {
            to,
            cookie,
            answer_posted,
        }) => {
            let mut response = see_other(to.as_str())?;
            let set = match answer_posted {
                true => format!(
                    "{SAML_COOKIE}={cookie}; Max-Age=600; {}",
                    saml_cookie_attributes(call, &mvpd.id)
                ),
                false => format!(
                    "{COOKIE}={cookie}; Max-Age=600; {}",
                    cookie_attributes(call, "Lax")
                ),
            };
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&set).map_err(|_| ApiError::not_found())?,
            );
            Ok(response)
        }
        Err(e) => {
            tracing::warn!(mvpd = %mvpd.id, error = %e, "cannot start a sign-in");
            Ok(failed(
                call,
                StatusCode::BAD_GATEWAY,
                "Your TV provider cannot be reached right now. Try again in a moment.",
            ))
        }
    }
}

/// The provider's answer: the device linked to whoever signed in.
pub(super) async fn callback(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    if let Some(error) = call.input.get("error") {
        let message = format!("Your TV provider did not sign you in ({error}).");
        return Ok(failed(&call, StatusCode::BAD_REQUEST, &message));
    }
    let (Some(cookie), Some(state), Some(code)) = (
        cookie(&call, COOKIE),
        call.input.get("state"),
        call.input.get("code"),
    ) else {
        return Ok(failed(&call, StatusCode::BAD_REQUEST, SESSION_GONE));
    };
    let returned = match call
        .activation
        .finish(
            call.requestor,
            &cookie,
            &state,
            &code,
            call.input.get("iss").as_deref(),
            &here(&call),
        )
        .await
    {
        Ok(returned) => returned,
        Err(e) => {
            // The detail (what a provider's endpoint answered, or why it was not called) is
            // the operator's to read; the page says one sentence.
            tracing::info!(error = %e, "a sign-in did not complete");
            let message = match e {
                ActivationError::Session => SESSION_GONE,
                _ => "Your TV provider's answer could not be used. Start again from the code.",
            };
            return Ok(failed(&call, StatusCode::BAD_REQUEST, message));
        }
    };
    let attributes = cookie_attributes(&call, "Lax");
    Ok(clear(link(&call, returned).await, COOKIE, &attributes))
}

/// This gateway's SAML metadata as the path's MVPD's service provider.
pub(super) fn saml_metadata(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let mvpd = call.path.mvpd.unwrap_or_default();
    let Some(here) = saml_here(&call) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_public_url",
            "this gateway's publicUrl is not configured",
        ));
    };
    let metadata = match call.activation.saml_metadata(call.requestor, mvpd, &here) {
        Ok(metadata) => metadata,
        Err(ActivationError::NoSignIn(_)) => return Err(ApiError::not_found()),
        Err(e) => {
            tracing::warn!(mvpd, error = %e, "cannot describe this gateway to a SAML provider");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "saml_unconfigured",
                "this gateway's SAML key pair for the MVPD is unusable",
            ));
        }
    };
    let mut response = Response::new(Bytes::from(metadata));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    Ok(response)
}

/// A SAML identity provider's answer, posted by the browser (the HTTP-POST binding): the
/// device linked to whoever it names.
pub(super) async fn saml_acs(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let mvpd = call.path.mvpd.unwrap_or_default();
    let (Some(response), Some(relay_state)) =
        (call.input.get("SAMLResponse"), call.input.get("RelayState"))
    else {
        return Ok(failed(&call, StatusCode::BAD_REQUEST, SESSION_GONE));
    };
    let Some(here) = saml_here(&call) else {
        return Ok(failed(
            &call,
            StatusCode::SERVICE_UNAVAILABLE,
            NO_PUBLIC_URL,
        ));
    };
    let browser = cookie(&call, SAML_COOKIE);
    let finished = call
        .activation
        .finish_saml(
            call.requestor,
            mvpd,
            &relay_state,
            browser.as_deref(),
            &response,
            &here,
        )
        .await;
    let attributes = saml_cookie_attributes(&call, mvpd);
    let answer = match finished {
        Ok(returned) => link(&call, returned).await,
        Err(ActivationError::Session) => failed(&call, StatusCode::BAD_REQUEST, SESSION_GONE),
        Err(e) => {
            // The reason is the operator's to read; the page says only that it failed.
            tracing::info!(mvpd, error = %e, "a SAML sign-in was refused");
            failed(
                &call,
                StatusCode::BAD_REQUEST,
                "Your TV provider's answer could not be accepted. Start again from the code.",
            )
        }
    };
    Ok(clear(answer, SAML_COOKIE, &attributes))
}

/// Links the code's device to whoever signed in; the page that says so, or the way back to
/// where the sign-in was started from.
async fn link(call: &Call<'_>, returned: Returned) -> ApiResponse {
    let Ok(user) = UserId::parse(&returned.user.subject) else {
        let message = "Your TV provider identified you in a way this service cannot use.";
        return failed(call, StatusCode::BAD_GATEWAY, message);
    };
    let record = call
        .linking
        .find_code(call.requestor, &returned.code)
        .await
        .ok();
    let device = record
        .as_ref()
        .map_or_else(|| "your device".to_owned(), device_name);
    let linked = call
        .linking
        .link(
            call.requestor,
            &returned.code,
            user,
            Some(&returned.mvpd),
            returned.user.metadata,
        )
        .await;
    if let (Some(to), Ok(_)) = (&returned.return_to, &linked)
        && let Ok(back) = see_other(to)
    {
        return back;
    }
    outcome(call, &device, linked)
}

/// The value of the cookie `name` the browser sent.
fn cookie(call: &Call<'_>, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    call.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
}

/// The page that tells how the linking of `device` ended.
fn outcome(call: &Call<'_>, device: &str, linked: Result<Linked, Error>) -> ApiResponse {
    match linked {
        Ok(Linked::Now { .. }) => html(
            StatusCode::OK,
            pages::outcome(
                call.requestor,
                "You're all set",
                &format!(
                    "{device} is now activated. Return to your TV: it will start in a moment."
                ),
            ),
        ),
        Ok(Linked::AwaitingApproval) => html(
            StatusCode::ACCEPTED,
            pages::outcome(
                call.requestor,
                "Almost there",
                &format!(
                    "{device} will be activated as soon as {} approves it.",
                    service_name(call)
                ),
            ),
        ),
        Err(Error::CodeNotFound) => failed(
            call,
            StatusCode::NOT_FOUND,
            "The code expired or was used while you signed in: ask your TV for a new one.",
        ),
        Err(e) => {
            let status = ApiError::from(e).status;
            failed(
                call,
                status,
                "The device could not be activated. Try again in a moment.",
            )
        }
    }
}

/// A refusal before the page's handler ran: too many attempts (the wait is said, and sent
/// as `Retry-After`), or any other reason in its own words.
pub(crate) fn refusal(requestor: &RequestorPolicy, e: &ApiError) -> ApiResponse {
    let (title, message) = match e.retry_after {
        Some(seconds) => (
            "Too many attempts",
            format!(
                "There have been too many attempts, from your network or on {}. For your \
                 security, wait {seconds} seconds before you try again.",
                requestor.display_name
            ),
        ),
        None => ("Something went wrong", e.message.to_string()),
    };
    let mut response = html(e.status, pages::outcome(requestor, title, &message));
    if let Some(value) = e
        .retry_after
        .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn failed(call: &Call<'_>, status: StatusCode, message: &str) -> ApiResponse {
    html(
        status,
        pages::outcome(call.requestor, "Something went wrong", message),
    )
}

/// Sends the browser on to `to`.
fn see_other(to: &str) -> Result<ApiResponse, ApiError> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let location = HeaderValue::from_str(to).map_err(|_| ApiError::not_found())?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

fn clear(mut response: ApiResponse, name: &str, attributes: &str) -> ApiResponse {
    let clear = format!("{name}=; Max-Age=0; {attributes}");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
