//! Decisions: may the device's user play these resources, asked of the MVPD's decision
//! point (or recalled); an authorized decision carries the media token the edge checks.

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use super::super::contract::{Body, Contract, Schemas, contract, gives, of, refusal};
use super::super::response::{ApiResponse, json};
use super::super::{ApiError, Call};
use super::error::{V2Error, error_body};
use super::{device, service_provider, v2_error};
use crate::service::{Error, Source};
use linkgate_domain::ids::DeviceId;
use linkgate_domain::resource::Resource;

/// The resources asked about: JSON `{"resources": [...]}`, at least one, no more than the
/// requestor's limit.
fn resources(call: &Call<'_>) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter_resources",
            "the body must be JSON {\"resources\": [\"<resource>\", ...]} naming at least one",
        )
    };
    let listed: Vec<String> = call
        .input
        .json_field("resources")
        .and_then(Value::as_array)
        .ok_or_else(invalid)?
        .iter()
        .map(|r| r.as_str().map(str::to_owned).ok_or_else(invalid))
        .collect::<Result<_, _>>()?;
    if listed.is_empty() {
        return Err(invalid());
    }
    if listed.len() > call.requestor.preauthorize_limit {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "too_many_resources",
            format!(
                "at most {} resources may be asked about at once",
                call.requestor.preauthorize_limit
            ),
        ));
    }
    Ok(listed)
}

/// The device, authenticated at `{mvpd}` (or standing in under its `authnAll` rule): v2's
/// refusal otherwise.
async fn authenticated_at(call: &Call<'_>) -> Result<DeviceId, ApiError> {
    let device = device::of(call)?;
    call.entitlements
        .entitled(call.requestor, &device, call.path.mvpd)
        .await
        .map_err(v2_error)?;
    Ok(device)
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Mvpd => "mvpd",
        Source::Degradation => "degradation",
        Source::TempPass => "temppass",
    }
}

/// The decisions, one per resource asked about.
#[derive(Serialize, ToSchema)]
struct Decisions<'a> {
    decisions: Vec<Decision<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Decision<'a> {
    resource: &'a str,
    service_provider: &'a str,
    mvpd: &'a str,
    /// Who decided: `mvpd`, `degradation` or `temppass`.
    source: &'static str,
    authorized: bool,
    /// An authorized decision's media token (authorize, not preauthorize).
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<DecisionToken>,
    /// Why it is not authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<V2Error>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct DecisionToken {
    /// Epoch milliseconds.
    not_before: i64,
    not_after: i64,
    /// The signed media token the edge checks.
    serialized_token: String,
}

/// One decision, as v2 writes it.
fn decision<'a>(
    call: &'a Call<'_>,
    resource: &'a str,
    authorized: bool,
    source: Source,
) -> Decision<'a> {
    Decision {
        resource,
        service_provider: service_provider(call.requestor),
        mvpd: call.path.mvpd.unwrap_or_default(),
        source: source_name(source),
        authorized,
        token: None,
        error: None,
    }
}

/// A refused decision: `authorized: false` with its error, inside a 200.
fn denied<'a>(call: &'a Call<'_>, resource: &'a str, source: Source, e: &ApiError) -> Decision<'a> {
    Decision {
        error: Some(error_body(e)),
        ..decision(call, resource, false, source)
    }
}

/// The device's decisions at `{mvpd}`, or, when its TempPass window there has ended, every
/// resource refused for that (as v2 tells it, decision by decision).
async fn deciding(
    call: &Call<'_>,
    asked: &[String],
) -> Result<Result<DeviceId, ApiResponse>, ApiError> {
    match authenticated_at(call).await {
        Err(e) if e.code == Error::TempPassSpent.code() => {
            let decisions = asked
                .iter()
                .map(|resource| denied(call, resource, Source::TempPass, &e))
                .collect();
            Ok(Err(json(StatusCode::OK, &Decisions { decisions })))
        }
        decided => decided.map(Ok),
    }
}

/// `POST /api/v2/{sp}/decisions/authorize/{mvpd}`: a decision per resource, each authorized
/// one with its media token.
pub(in crate::api) async fn authorize(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let asked = resources(&call)?;
    let device = match deciding(&call, &asked).await? {
        Ok(device) => device,
        Err(refused) => return Ok(refused),
    };
    // Who answers, decided once for the whole request.
    let mvpd = call.path.mvpd.unwrap_or_default();
    let source = call.entitlements.source_at(call.requestor, mvpd);
    let mut decisions = Vec::with_capacity(asked.len());
    for id in &asked {
        let resource = match Resource::parse(id) {
            Ok(resource) => resource,
            Err(e) => {
                let e = v2_error(Error::from(e));
                decisions.push(denied(&call, id, Source::Mvpd, &e));
                continue;
            }
        };
        match call
            .entitlements
            .media_token(call.requestor, &device, &resource, call.path.mvpd)
            .await
        {
            Ok((token, claims)) => {
                let token = DecisionToken {
                    not_before: claims.iat * 1000,
                    not_after: claims.exp * 1000,
                    serialized_token: token,
                };
                decisions.push(Decision {
                    token: Some(token),
                    ..decision(&call, id, true, source)
                });
            }
            Err(
                e @ (Error::AuthzDenied { .. } | Error::Resource(_) | Error::DeniedByDegradation),
            ) => {
                decisions.push(denied(&call, id, source, &v2_error(e)));
            }
            Err(e) => return Err(v2_error(e)),
        }
    }
    Ok(json(StatusCode::OK, &Decisions { decisions }))
}

/// `POST /api/v2/{sp}/decisions/preauthorize/{mvpd}`: decisions without tokens, for
/// showing what the user may watch.
pub(in crate::api) async fn preauthorize(call: Call<'_>) -> Result<ApiResponse, ApiError> {
    let asked = resources(&call)?;
    let device = match deciding(&call, &asked).await? {
        Ok(device) => device,
        Err(refused) => return Ok(refused),
    };
    let answers = call
        .entitlements
        .preauthorize(call.requestor, &device, &asked, call.path.mvpd)
        .await
        .map_err(v2_error)?;
    let decisions = answers
        .iter()
        .map(|a| match (a.authorized, a.source) {
            (true, source) => decision(&call, &a.resource, true, source),
            (false, Source::Degradation) => {
                let e = v2_error(Error::DeniedByDegradation);
                denied(&call, &a.resource, Source::Degradation, &e)
            }
            (false, source @ (Source::Mvpd | Source::TempPass)) => {
                let e = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "preauthorization_denied_by_mvpd",
                    a.error
                        .unwrap_or("the MVPD did not authorize this resource"),
                );
                denied(&call, &a.resource, source, &e)
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &Decisions { decisions }))
}

/// The body `resources` reads.
fn asked(_: &mut Schemas) -> RefOr<Schema> {
    let names = ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(1));
    ObjectBuilder::new()
        .property("resources", names)
        .required("resources")
        .into()
}

const DECISIONS: Body = Body::Json(of::<Decisions<'static>>);

pub(in crate::api) const AUTHORIZE: Contract = Contract {
    body: Some(asked),
    ..contract!(
        "A decision per resource; each authorized one carries its media token.",
        [],
        [
            gives(
                200,
                "The decisions (refusals among them, each with its error).",
                DECISIONS
            ),
            refusal(
                403,
                "Not authenticated at the MVPD, too many resources, or the decision point failed."
            ),
        ]
    )
};

pub(in crate::api) const PREAUTHORIZE: Contract = Contract {
    body: Some(asked),
    ..contract!(
        "A decision per resource, without tokens: what the user may watch.",
        [],
        [
            gives(200, "The decisions.", DECISIONS),
            refusal(
                403,
                "Not authenticated at the MVPD, too many resources, or the decision point failed."
            ),
        ]
    )
};
