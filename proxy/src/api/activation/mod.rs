//! The activation page (the second screen): enter the code shown on the TV (or arrive with
//! it, from `verification_uri_complete`), pick a TV provider, sign in there, and the device
//! is linked. Every answer is a page; what goes wrong is said on it.

mod contracts;
mod language;
mod pages;
mod text;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::response::ApiResponse;
use super::{ApiError, Call};
use crate::html::escape;
use crate::service::{ActivationError, Confirmation, Error, Here, Linked, Returned, Started};
pub(super) use contracts::{
    CALLBACK, ENTRY, SAML_ACS, SAML_METADATA, SECOND_SCREEN, SIGN_IN, V2_AUTHENTICATE,
};
use language::Language;
use linkgate_domain::code::CodeRecord;
use linkgate_domain::ids::UserId;
use linkgate_domain::requestor::{Mvpd, RequestorPolicy};
use pages::{Page, Switch};
use text::Text;

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

/// The language of the page answering `call`: see `Language::of`.
fn language(call: &Call<'_>) -> Language {
    Language::of(
        call.headers,
        call.input.get("lang").as_deref(),
        cookie(call, language::COOKIE).as_deref(),
    )
}

fn text(call: &Call<'_>) -> &'static Text {
    language(call).text()
}

fn page<'a>(call: &'a Call<'a>, switch: Switch<'a>) -> Page<'a> {
    Page {
        requestor: call.requestor,
        language: language(call),
        switch,
    }
}

/// The device as a person knows it: its kind, as it described itself, and its ID.
fn device_name(t: &Text, record: &CodeRecord) -> String {
    match &record.device_type {
        Some(kind) => (t.device_of_kind)(kind, record.device.as_str()),
        None => (t.device)(record.device.as_str()),
    }
}

/// The code as typed, checked: the page naming the device and its providers, or the form
/// again with the reason.
async fn check_code(call: &Call<'_>, typed: &str) -> Result<ApiResponse, ApiError> {
    Ok(match call.linking.find_code(call.requestor, typed).await {
        Ok(record) => confirmation_page(call, &record, typed, None, None, StatusCode::OK),
        Err(Error::CodeNotFound) => {
            let page = page(call, Switch::On { code: Some(typed) });
            html(StatusCode::NOT_FOUND, pages::enter_code(&page, typed, true))
        }
        Err(e) => return Err(e.into()),
    })
}

/// GET: the form, or straight to the providers when the link carries the code; POST: the
/// typed code. A `lang` chosen with the language switch is kept for the pages that follow.
pub(super) async fn entry(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let typed = call
        .input
        .get("code")
        .or_else(|| call.input.get("user_code"));
    let mut response = match typed {
        Some(code) => check_code(&call, &code).await?,
        None => {
            let page = page(&call, Switch::On { code: None });
            html(StatusCode::OK, pages::enter_code(&page, "", false))
        }
    };
    let chosen = call.input.get("lang");
    if let Some(chosen) = chosen.as_deref().and_then(Language::from_tag) {
        let set = format!(
            "{}={}; Max-Age=31536000; {}",
            language::COOKIE,
            chosen.tag(),
            cookie_attributes(&call, "Lax")
        );
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
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
    let page = page(call, Switch::On { code: Some(typed) });
    let confirm = pages::Confirm {
        device: &device_name(page.language.text(), record),
        minutes: call.activation.minutes_since(record.issued_at),
        from: record.requested_from.map(|network| {
            let here = network.contains(&call.client_ip.to_canonical());
            (network.to_string(), here)
        }),
        code: typed,
        token: &token,
        providers: &providers,
        redirect_url,
        unticked: status != StatusCode::OK,
    };
    let mut response = html(status, pages::confirm(&page, &confirm));
    if known.is_none() {
        let set = format!(
            "{BROWSER_COOKIE}={browser}; Max-Age={BROWSER_SECONDS}; {}",
            cookie_attributes(call, "Strict")
        );
        if let Ok(value) = HeaderValue::from_str(&set) {
            response.headers_mut().append(header::SET_COOKIE, value);
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
        let message = text(&call).from_another_site;
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
    failed(call, StatusCode::BAD_REQUEST, text(call).not_sent_back)
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
    if call.requestor.sign_in_mvpd(&mvpd).is_none() {
        let message = text(&call).provider_unusable;
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

/// Adobe v2's sign-in for `{code}` (`GET /api/v2/authenticate/{sp}/{code}`), opened in a
/// browser: the confirmation page, offering the session's MVPD (only it, once chosen) and
/// returning to the session's `redirectUrl` (one of the requestor's hosts) once linked.
pub(super) async fn v2_authenticate(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.path.code.unwrap_or_default().to_owned();
    let record = match call.linking.find_code(call.requestor, &code).await {
        Ok(record) => record,
        Err(Error::CodeNotFound) => return check_code(&call, &code).await,
        Err(e) => return Err(e.into()),
    };
    // Given when the session was resumed, else kept with the code when it was made.
    let asked: Option<String> = call
        .input
        .get("redirectUrl")
        .map(Into::into)
        .or_else(|| record.session.as_ref().and_then(|s| s.redirect_url.clone()));
    if let Some(asked) = &asked
        && call.requestor.adobe.return_to(asked).is_none()
    {
        return Ok(not_sent_back(&call));
    }
    let chosen = record
        .mvpd
        .clone()
        .or(call.input.get("mvpd").map(Into::into));
    if let Some(mvpd) = &chosen
        && call.requestor.sign_in_mvpd(mvpd).is_none()
    {
        let message = text(&call).provider_unusable;
        return Ok(failed(&call, StatusCode::BAD_REQUEST, message));
    }
    Ok(confirmation_page(
        &call,
        &record,
        &code,
        chosen.as_deref(),
        asked.as_deref(),
        StatusCode::OK,
    ))
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
    let Some(mvpd) = call.requestor.sign_in_mvpd(mvpd) else {
        let message = text(call).provider_unusable;
        return Ok(failed(call, StatusCode::BAD_REQUEST, message));
    };
    let here = match (&mvpd.saml, saml_here(call)) {
        (Some(_), None) => {
            let message = text(call).no_public_url;
            return Ok(failed(call, StatusCode::SERVICE_UNAVAILABLE, message));
        }
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
            let message = text(call).provider_unreachable;
            Ok(failed(call, StatusCode::BAD_GATEWAY, message))
        }
    }
}

/// The provider's answer: the device linked to whoever signed in.
pub(super) async fn callback(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let t = text(&call);
    if let Some(error) = call.input.get("error") {
        let message = (t.provider_refused)(&escape(&error));
        return Ok(failed(&call, StatusCode::BAD_REQUEST, &message));
    }
    let (Some(cookie), Some(state), Some(code)) = (
        cookie(&call, COOKIE),
        call.input.get("state"),
        call.input.get("code"),
    ) else {
        return Ok(failed(&call, StatusCode::BAD_REQUEST, t.session_gone));
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
                ActivationError::Session => t.session_gone,
                _ => t.answer_unusable,
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
    let t = text(&call);
    let (Some(response), Some(relay_state)) =
        (call.input.get("SAMLResponse"), call.input.get("RelayState"))
    else {
        return Ok(failed(&call, StatusCode::BAD_REQUEST, t.session_gone));
    };
    let Some(here) = saml_here(&call) else {
        let message = t.no_public_url;
        return Ok(failed(&call, StatusCode::SERVICE_UNAVAILABLE, message));
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
        Err(ActivationError::Session) => failed(&call, StatusCode::BAD_REQUEST, t.session_gone),
        Err(e) => {
            // The reason is the operator's to read; the page says only that it failed.
            tracing::info!(mvpd, error = %e, "a SAML sign-in was refused");
            failed(&call, StatusCode::BAD_REQUEST, t.answer_refused)
        }
    };
    Ok(clear(answer, SAML_COOKIE, &attributes))
}

/// Links the code's device to whoever signed in; the page that says so, or the way back to
/// where the sign-in was started from.
async fn link(call: &Call<'_>, returned: Returned) -> ApiResponse {
    let t = text(call);
    let Ok(user) = UserId::parse(&returned.user.subject) else {
        return failed(call, StatusCode::BAD_GATEWAY, t.identity_unusable);
    };
    let record = call
        .linking
        .find_code(call.requestor, &returned.code)
        .await
        .ok();
    let device = record
        .as_ref()
        .map_or_else(|| t.some_device.to_owned(), |record| device_name(t, record));
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
    cookie_in(call.headers, name)
}

fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
}

/// The page that tells how the linking of `device` ended.
fn outcome(call: &Call<'_>, device: &str, linked: Result<Linked, Error>) -> ApiResponse {
    let page = page(call, Switch::Off);
    let t = page.language.text();
    let device = escape(device);
    match linked {
        Ok(Linked::Now { .. }) => html(
            StatusCode::OK,
            pages::outcome(&page, t.all_set_title, &(t.all_set)(&device)),
        ),
        Ok(Linked::AwaitingApproval) => {
            let service = escape(&call.requestor.display_name);
            let message = (t.almost)(&device, &service);
            html(
                StatusCode::ACCEPTED,
                pages::outcome(&page, t.almost_title, &message),
            )
        }
        Err(Error::CodeNotFound) => failed(call, StatusCode::NOT_FOUND, t.code_gone),
        Err(e) => failed(call, ApiError::from(e).status, t.not_activated),
    }
}

/// A refusal of a page's request: too many attempts (the wait is said, and sent as
/// `Retry-After`), or any other reason in its own words.
pub(crate) fn refusal(
    requestor: &RequestorPolicy,
    headers: &http::HeaderMap,
    e: &ApiError,
) -> ApiResponse {
    let chosen = cookie_in(headers, language::COOKIE);
    let page = Page {
        requestor,
        language: Language::of(headers, None, chosen.as_deref()),
        switch: Switch::Off,
    };
    let t = page.language.text();
    let too_many = e
        .retry_after
        .filter(|_| e.status == StatusCode::TOO_MANY_REQUESTS);
    let (title, message) = match too_many {
        Some(seconds) => (
            t.too_many_title,
            (t.too_many)(&escape(&requestor.display_name), &seconds.to_string()),
        ),
        None => (t.wrong_title, escape(&e.message)),
    };
    let mut response = html(e.status, pages::outcome(&page, title, &message));
    if let Some(value) = e
        .retry_after
        .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A page saying what went wrong: `message` is HTML, as `Text` says it.
fn failed(call: &Call<'_>, status: StatusCode, message: &str) -> ApiResponse {
    let page = page(call, Switch::Off);
    let title = page.language.text().wrong_title;
    html(status, pages::outcome(&page, title, message))
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
