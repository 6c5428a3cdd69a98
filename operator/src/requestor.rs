//! The Requestor controller: checks each spec with the gateway's own rules — including the
//! Secrets it refers to — and writes `Valid` and `Ready` to its status by server-side apply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use linkgate_crds::{Requestor, RequestorSpec, SecretKeyRef};
use linkgate_proxy::domain::requestor::RequestorPolicy;
use serde_json::json;

use crate::context::{Context, MANAGER};
use crate::error::{Error, Result};
use crate::status;

/// Even without events, every requestor is looked at this often, so a missed one heals.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a failed reconcile is tried again.
const RETRY: Duration = Duration::from_secs(15);

/// The Secrets a spec refers to.
pub fn secret_refs(spec: &RequestorSpec) -> impl Iterator<Item = &SecretKeyRef> {
    std::iter::once(&spec.backend.api_key_secret_ref).chain(
        spec.media_tokens
            .signing_keys
            .iter()
            .map(|k| &k.private_key_secret_ref),
    )
}

pub async fn reconcile(requestor: Arc<Requestor>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile();
    let ns = requestor.namespace().ok_or(Error::MissingNamespace)?;
    let name = requestor.name_any();

    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let mut data: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    for reference in secret_refs(&requestor.spec) {
        if let Some(secret) = secrets.get_opt(&reference.name).await?
            && let Some(value) = secret.data.as_ref().and_then(|d| d.get(&reference.key))
        {
            data.insert(
                (reference.name.clone(), reference.key.clone()),
                value.0.clone(),
            );
        }
    }
    let resolve = |r: &SecretKeyRef| data.get(&(r.name.clone(), r.key.clone())).cloned();
    let validation = RequestorPolicy::from_spec(&name, &requestor.spec, &resolve).map(drop);
    if let Err(e) = &validation {
        tracing::info!(%ns, %name, reason = status::reason(e), error = %e, "requestor is not valid");
    }

    let previous = requestor
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let now = Time(jiff::Timestamp::now());
    let generation = requestor.meta().generation;
    let conditions = status::conditions(&validation, generation, previous, &now);
    let was_valid = previous
        .iter()
        .find(|c| c.type_ == status::VALID)
        .map(|c| c.status == "True");
    if was_valid != Some(validation.is_ok()) {
        let event = match &validation {
            Ok(()) => Event {
                type_: EventType::Normal,
                reason: "SpecValid".into(),
                note: Some("the spec is valid; proxies serve this requestor".into()),
                action: "Validate".into(),
                secondary: None,
            },
            Err(e) => Event {
                type_: EventType::Warning,
                reason: status::reason(e).into(),
                note: Some(e.to_string()),
                action: "Validate".into(),
                secondary: None,
            },
        };
        // An Event is a courtesy: failing to publish one must not fail the reconcile.
        if let Err(e) = ctx
            .recorder
            .publish(&event, &requestor.object_ref(&()))
            .await
        {
            tracing::warn!(%ns, %name, error = %e, "cannot publish an Event");
        }
    }
    let patch = json!({
        "apiVersion": "linkgate.dev/v1alpha1",
        "kind": "Requestor",
        "status": {"observedGeneration": generation, "conditions": conditions},
    });
    Api::<Requestor>::namespaced(ctx.client.clone(), &ns)
        .patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(Action::requeue(RESYNC))
}

pub fn error_policy(requestor: Arc<Requestor>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %requestor.name_any(), %error, "reconcile failed");
    ctx.metrics.failure(error.metric_label());
    Action::requeue(RETRY)
}
