//! The Adobe Pass REST API v1 registration code endpoints (`/reggie/v1/...`): form
//! parameters, epoch-millisecond times.

use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::contract::answers::{
    CODE_DROPPED, LINKED_DEVICE_NEEDS_ITS_TOKEN, NO_FREE_CODE, NO_SUCH_CODE,
};
use super::contract::{
    Body, Contract, Kind, SAME_REQUESTOR, contract, gives, leads_to, of, optional, refusal,
    required,
};
use super::response::{ApiResponse, answer, json, no_content};
use super::{ApiError, Call};
use linkgate_domain::code::CodeRecord;

/// The namespace of v1's `<regcode>` in XML.
const REGCODE_NAMESPACE: &str = "model.mvc.reggie.pass.adobe.com";
/// Its root element, as its schema names it too (tested below).
const REGCODE_ROOT: &str = "ns2:regcode";

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(xml(
    name = "regcode",
    prefix = "ns2",
    namespace = "model.mvc.reggie.pass.adobe.com"
))]
struct Regcode<'a> {
    /// In XML only: the root is `ns2:regcode` in v1's namespace.
    #[serde(rename = "@xmlns:ns2", skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    namespace: Option<&'static str>,
    id: &'a str,
    code: &'a str,
    requestor: &'a str,
    /// Always there, empty when the device chose none: v1 clients read it unconditionally.
    mvpd: &'a str,
    generated: i64,
    expires: i64,
    info: Info<'a>,
    /// Only in the answer to the device that asked: what it exchanges for its tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_secret: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegcodeInfo)]
struct Info<'a> {
    device_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type: Option<&'a str>,
}

fn regcode_view<'a>(record: &'a CodeRecord, code: &'a str, as_xml: bool) -> Regcode<'a> {
    Regcode {
        namespace: as_xml.then_some(REGCODE_NAMESPACE),
        id: &record.id,
        code,
        requestor: &record.requestor,
        mvpd: record.mvpd.as_deref().unwrap_or_default(),
        generated: record.issued_at.unix_millis(),
        expires: record.expires_at.unix_millis(),
        info: Info {
            device_id: record.device.as_str(),
            device_type: record.device_type.as_deref(),
        },
        device_secret: None,
    }
}

pub(super) async fn create_regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let request = super::native::issue_request(&call, "ttl")?;
    let issued = call.linking.issue_code(call.requestor, request).await?;
    let view = Regcode {
        device_secret: Some(&issued.device_secret),
        ..regcode_view(&issued.record, issued.code.as_str(), call.as_xml)
    };
    Ok(answer(
        call.as_xml,
        REGCODE_ROOT,
        StatusCode::CREATED,
        &view,
    ))
}

pub(super) async fn regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let input = call.path.code.unwrap_or_default();
    let record = call.linking.find_code(call.requestor, input).await?;
    let code = call
        .requestor
        .codes
        .normalise(input)
        .ok_or(crate::service::Error::CodeNotFound)?;
    let view = regcode_view(&record, code.as_str(), call.as_xml);
    Ok(answer(call.as_xml, REGCODE_ROOT, StatusCode::OK, &view))
}

pub(super) async fn delete_regcode(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    call.linking
        .delete_code(call.requestor, call.path.code.unwrap_or_default())
        .await?;
    Ok(no_content())
}

/// Whether a user signed in with the code (the v1 second screen polls this): 200 once they
/// have, 403 while the code waits, 404 for a code unknown or expired.
pub(super) async fn signed_in_with_code(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let code = call.path.code.unwrap_or_default();
    match call.linking.code_outcome(call.requestor, code).await? {
        Some(_) => Ok(json(
            StatusCode::OK,
            &SignedIn {
                authenticated: true,
            },
        )),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "authenticated_profile_missing",
            "no one has signed in with this code yet",
        )),
    }
}

/// A user signed in with the code.
#[derive(Serialize, ToSchema)]
struct SignedIn {
    /// Always `true`.
    authenticated: bool,
}

const REGCODE_ANSWER: &str = "The registration code, its times in epoch milliseconds.";

const THE_CODE: &[(&str, &str)] = &[SAME_REQUESTOR, ("path.code", "$response.body#/code")];

pub(super) const CREATE_REGCODE: Contract = Contract {
    links: &[
        leads_to("ReadTheCode", "get_adobe_regcode_record", THE_CODE, &[]),
        leads_to("DropTheCode", "delete_adobe_regcode_record", THE_CODE, &[]),
        leads_to(
            "SignedInWithIt",
            "get_adobe_checkauthn_code",
            &[
                ("path.code", "$response.body#/code"),
                ("query.requestor", "$response.body#/requestor"),
            ],
            &[],
        ),
    ],
    ..contract!(
        "A registration code for a device to show; a new one retires its previous code.",
        [
            required("deviceId", "The device's ID.").of(Kind::DeviceId),
            optional(
                "mvpd",
                "The MVPD the person will sign in with, when already chosen."
            ),
            optional("deviceType", "What kind of device it is."),
            optional("ttl", "How long the code lives, in seconds.").of(Kind::Seconds),
        ],
        [
            gives(201, REGCODE_ANSWER, Body::JsonOrXml(of::<Regcode<'static>>)),
            LINKED_DEVICE_NEEDS_ITS_TOKEN,
            NO_FREE_CODE,
        ]
    )
};

pub(super) const REGCODE: Contract = contract!(
    "A registration code's record (never the device's secret).",
    [],
    [
        gives(200, REGCODE_ANSWER, Body::JsonOrXml(of::<Regcode<'static>>)),
        NO_SUCH_CODE,
    ]
);

pub(super) const DELETE_REGCODE: Contract = contract!(
    "Takes a registration code out of use.",
    [],
    [CODE_DROPPED, NO_SUCH_CODE,]
);

pub(super) const SIGNED_IN_WITH_CODE: Contract = contract!(
    "Whether someone signed in with the code (the second screen polls this).",
    [],
    [
        gives(
            200,
            "Someone signed in with it.",
            Body::Json(of::<SignedIn>)
        ),
        refusal(403, "No one has yet (`authenticated_profile_missing`)."),
        refusal(404, "No such code, or it expired."),
    ]
);

#[cfg(test)]
mod tests {
    use super::super::contract::xml_root;
    use super::*;
    use utoipa::openapi::{RefOr, schema::Schema};

    #[test]
    fn the_regcode_s_xml_root_is_the_one_its_schema_names() {
        assert_eq!(xml_root::<Regcode<'_>>(), REGCODE_ROOT);
        let RefOr::T(Schema::Object(object)) = <Regcode<'_> as utoipa::PartialSchema>::schema()
        else {
            panic!("an object");
        };
        let namespace = object.xml.and_then(|x| x.namespace).expect("a namespace");
        assert_eq!(namespace, REGCODE_NAMESPACE);
    }
}
