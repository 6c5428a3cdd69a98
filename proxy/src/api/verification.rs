//! RFC 8628's verification URIs: where people enter a requestor's codes, that address with
//! one code in it (`verification_uri_complete`), and that one as a QR code a TV can show as
//! it is (an SVG), so a phone's camera opens the confirmation page with the code typed.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::response::ApiResponse;
use super::{ApiError, Call, activation};

/// Where people enter the requestor's codes: the spec's `deviceFlow.verificationUri`, else
/// the activation page.
pub(super) fn uri(call: &Call<'_>) -> String {
    match &call.requestor.verification_uri {
        Some(uri) => uri.to_string(),
        None => activation::page_url(call),
    }
}

/// The verification URI with `user_code` in it.
pub(super) fn complete(call: &Call<'_>, user_code: &str) -> Result<url::Url, ApiError> {
    let mut complete = url::Url::parse(&uri(call)).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the verification URI is not a URL",
        )
    })?;
    complete
        .query_pairs_mut()
        .append_pair("requestor", &call.requestor.name)
        .append_pair("user_code", user_code);
    Ok(complete)
}

/// `GET /activate/{r}/qr.svg?user_code=`: the complete verification URI of a code in the
/// requestor's format, as a QR code. Whether the code is live is not said: anyone may ask.
pub(super) fn qr(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let typed = call.input.require("user_code")?;
    let code = call.requestor.codes.normalise(&typed).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_user_code",
            "user_code is not a code of this requestor's format",
        )
    })?;
    let target = complete(&call, &code.display())?;
    let svg = QrCode::with_error_correction_level(target.as_str(), EcLevel::M)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the verification URI is too long for a QR code",
            )
        })?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut response = Response::new(Bytes::from(svg));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    // Each code's own picture, of no use once it has gone.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub(super) const QR: super::contract::Contract = super::contract::contract!(
    "The verification URI with the code, as a QR code a TV shows.",
    [super::contract::required("user_code", "The code.")],
    [super::contract::gives(
        200,
        "The QR code.",
        super::contract::Body::Svg
    )]
);
