//! The Requestor controller: keeps the media-token keys it manages (when the spec names
//! none), checks each spec with the gateway's own rules — including the Secrets it refers
//! to — and writes `Valid`, `Ready` and the managed keys to its status by server-side apply.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use linkgate_crds::{
    DegradationStatus, ManagedKeyStatus, Requestor, RequestorSpec, SecretKeyRef, Stored,
};
use linkgate_domain::requestor::{PolicyError, RequestorPolicy};
use linkgate_domain::tenancy::{clash_with_older, id_holder, prefixes_overlap, secret_is_for};
use serde_json::json;

use crate::context::{Context, MANAGER};
use crate::error::{Error, Result};
use crate::keys::Plan;
use crate::{key_delivery, key_secret, status};

/// Even without events, every requestor is looked at this often, so a missed one heals.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a failed reconcile is tried again.
const RETRY: Duration = Duration::from_secs(15);

/// The requestors to look at again when `secret` changes: those whose spec refers to it,
/// the one owning it (its managed keys) and the one it delivers keys to.
pub fn requestors_using(
    secret: &impl Resource,
    requestors: &[Arc<Requestor>],
) -> Vec<ObjectRef<Requestor>> {
    let (ns, name) = (secret.namespace(), secret.name_any());
    let referring = requestors
        .iter()
        .filter(|r| r.namespace() == ns && r.spec.secret_refs().any(|s| s.name == name))
        .map(|r| ObjectRef::from_obj(&**r));
    let owning = secret
        .owner_references()
        .iter()
        .filter(|o| {
            o.controller == Some(true)
                && o.kind == Requestor::kind(&())
                && o.api_version == Requestor::api_version(&())
        })
        .filter_map(|o| Some(ObjectRef::new(&o.name).within(ns.as_deref()?)));
    let delivered_for = secret
        .labels()
        .get(key_delivery::DELIVERY_LABEL)
        .and_then(|r| Some(ObjectRef::new(r).within(ns.as_deref()?)));
    referring.chain(owning).chain(delivered_for).collect()
}

/// The requestors to look at again when `changed` changes: those of its namespace whose
/// paths overlap its own or who declare its requestor ID (it may have freed or claimed
/// them), and those refused for a path or an ID another held (it may have been `changed`'s
/// previous version).
pub fn requestors_sharing_claims(
    changed: &Requestor,
    requestors: &[Arc<Requestor>],
) -> Vec<ObjectRef<Requestor>> {
    let ns = changed.namespace();
    let overlaps = |r: &Requestor| {
        r.spec
            .routes
            .iter()
            .any(|a| (changed.spec.routes.iter()).any(|b| prefixes_overlap(&a.prefix, &b.prefix)))
    };
    let refused_for_a_claim = |r: &Requestor| {
        r.status.as_ref().is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == status::VALID
                    && [status::ROUTE_CONFLICT, status::REQUESTOR_ID_CONFLICT]
                        .contains(&c.reason.as_str())
            })
        })
    };
    let same_id =
        |r: &Requestor| declared_id(r).is_some() && declared_id(r) == declared_id(changed);
    requestors
        .iter()
        .filter(|r| r.namespace() == ns && r.name_any() != changed.name_any())
        .filter(|r| overlaps(r) || same_id(r) || refused_for_a_claim(r))
        .map(|r| ObjectRef::from_obj(&**r))
        .collect()
}

pub async fn reconcile(requestor: Arc<Requestor>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile();
    let ns = requestor.namespace().ok_or(Error::MissingNamespace)?;
    let requestors = Api::<Requestor>::namespaced(ctx.client.clone(), &ns);
    // The managed keys are planned from the status: read it fresh, as the cached copy may
    // not yet show the keys the previous reconcile wrote, which would rotate them again.
    // Unreadable by now: the watch that meets it reports it.
    let fresh = Api::<Stored<Requestor>>::namespaced(ctx.client.clone(), &ns);
    let Some(Stored::Read(requestor)) = fresh.get_opt(&requestor.name_any()).await? else {
        return Ok(Action::await_change());
    };
    // Going away: a key made now would only be collected with it.
    if requestor.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let now = jiff::Timestamp::now();
    let (plan, media_keys) = media_keys(&ctx, &requestor, &ns, now).await?;
    let validation = validate(&ctx, &requestor, &ns, &media_keys).await?;
    write_status(&ctx, &requestors, &requestor, &validation, &media_keys, now).await?;
    Ok(next(&ctx, &requestor, plan, &validation, now).await)
}

/// The keys the status is to list, and the plan that made them when this operator manages
/// them: made here (written to their Secret before any status names them), delivered from
/// the origin for a copy received from another region, or none (the spec names its own).
async fn media_keys(
    ctx: &Context,
    requestor: &Requestor,
    ns: &str,
    now: jiff::Timestamp,
) -> Result<(Option<Plan>, Vec<ManagedKeyStatus>)> {
    let received = linkgate_crds::origin_of(requestor)
        .is_some_and(|origin| Some(origin) != ctx.region.as_deref());
    if received {
        let kept = || requestor.status.clone().unwrap_or_default().media_keys;
        let delivered = key_delivery::adopt(&ctx.client, requestor).await?;
        return Ok((None, delivered.unwrap_or_else(kept)));
    }
    if !requestor.spec.media_tokens.signing_keys.is_empty() {
        return Ok((None, Vec::new()));
    }
    let plan = key_secret::ensure(ctx, requestor, ns, now).await?;
    let keys = plan.keys.clone();
    Ok((Some(plan), keys))
}

/// The gateway's own verdict on the spec (with `media_keys` standing in when it names no
/// keys), after the paths older requestors hold.
async fn validate(
    ctx: &Context,
    requestor: &Requestor,
    ns: &str,
    media_keys: &[ManagedKeyStatus],
) -> Result<std::result::Result<(), PolicyError>> {
    let name = requestor.name_any();
    let spec = effective_spec(requestor, media_keys);
    let data = secret_data(ctx, ns, &name, &spec).await?;
    let resolve = |r: &SecretKeyRef| data.get(&(r.name.clone(), r.key.clone())).cloned();
    let validation = match held_by_older(ctx, requestor, ns) {
        Some(held) => Err(held),
        None => RequestorPolicy::from_spec(&name, &spec, &resolve, ctx.bounds).map(drop),
    };
    if let Err(e) = &validation {
        tracing::info!(%ns, %name, reason = status::reason(e), error = %e, "requestor is not valid");
    }
    Ok(validation)
}

/// Applies `Valid`, `Ready`, the observed generation and the keys to the status, telling
/// a change of validity as an Event.
async fn write_status(
    ctx: &Context,
    requestors: &Api<Requestor>,
    requestor: &Requestor,
    validation: &std::result::Result<(), PolicyError>,
    media_keys: &[ManagedKeyStatus],
    now: jiff::Timestamp,
) -> Result<()> {
    let previous = requestor
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let generation = requestor.meta().generation;
    let conditions = status::conditions(validation, generation, previous, &Time(now));
    let was_valid = previous
        .iter()
        .find(|c| c.type_ == status::VALID)
        .map(|c| c.status == "True");
    if was_valid != Some(validation.is_ok()) {
        publish(ctx, requestor, &validity_event(validation)).await;
    }
    let degradations = degradations(requestor);
    let told = requestor
        .status
        .as_ref()
        .map(|s| s.degradations.as_slice())
        .unwrap_or_default();
    for event in degradation_events(told, &degradations) {
        publish(ctx, requestor, &event).await;
    }
    // Always applied (a copy's as last delivered): a field left out of an apply is dropped.
    let patch = json!({
        "apiVersion": "linkgate.dev/v1alpha1",
        "kind": "Requestor",
        "status": {
            "observedGeneration": generation,
            "conditions": conditions,
            "mediaKeys": media_keys,
            "degradations": degradations,
        },
    });
    requestors
        .patch_status(
            &requestor.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// Tells of a key made, and when to look again: at the next rotation or retirement, soon
/// for a refused path (the holder's change that frees it may reach this reconcile before
/// it reaches the store the clash is read from), and at the resync otherwise.
async fn next(
    ctx: &Context,
    requestor: &Requestor,
    plan: Option<Plan>,
    validation: &std::result::Result<(), PolicyError>,
    now: jiff::Timestamp,
) -> Action {
    let resync = if matches!(validation, Err(PolicyError::RouteHeld(_))) {
        RETRY
    } else {
        RESYNC
    };
    let Some(plan) = plan else {
        return Action::requeue(resync);
    };
    if let Some((id, change)) = &plan.new_key {
        ctx.metrics.key_created(change.label());
        let name = requestor.name_any();
        tracing::info!(%name, key = %id, reason = change.reason(), "media-token key made");
        let event = Event {
            type_: EventType::Normal,
            reason: change.reason().into(),
            note: Some(format!("media tokens are now signed with key {id}")),
            action: "ManageKeys".into(),
            secondary: None,
        };
        publish(ctx, requestor, &event).await;
    }
    let until_change = plan
        .next_change
        .duration_since(now)
        .try_into()
        .unwrap_or(Duration::ZERO);
    Action::requeue(until_change.min(resync))
}

/// The spec the gateway will load: managed keys stand in when the spec names none.
fn effective_spec(requestor: &Requestor, media_keys: &[ManagedKeyStatus]) -> RequestorSpec {
    let mut effective = requestor.clone();
    effective.status.get_or_insert_default().media_keys = media_keys.to_vec();
    effective.spec.media_tokens.signing_keys = effective.signing_keys();
    effective.spec
}

/// What an older Requestor of its namespace holds that the requestor claims: the first
/// path it routes, or the Adobe requestor ID it declares.
fn held_by_older(ctx: &Context, requestor: &Requestor, ns: &str) -> Option<PolicyError> {
    let all = ctx.requestors.state();
    let prefixes: Vec<&str> = requestor
        .spec
        .routes
        .iter()
        .map(|r| r.prefix.as_str())
        .collect();
    let neighbours = || {
        all.iter()
            .map(|r| &**r)
            .filter(|r| r.namespace().as_deref() == Some(ns))
    };
    if let Some(clash) = clash_with_older(requestor, &prefixes, neighbours()) {
        return Some(PolicyError::RouteHeld(Box::new(clash)));
    }
    let id = declared_id(requestor)?;
    let holder = id_holder(requestor, Some(id), neighbours())?;
    Some(PolicyError::RequestorIdHeld {
        id: id.to_owned(),
        holder,
    })
}

fn declared_id(requestor: &Requestor) -> Option<&str> {
    requestor.spec.adobe.as_ref()?.requestor_id.as_deref()
}

/// The values of the Secret keys `spec` refers to that exist and are meant for the
/// requestor, by (Secret, key): no other Secret is read.
async fn secret_data(
    ctx: &Context,
    ns: &str,
    requestor: &str,
    spec: &RequestorSpec,
) -> Result<BTreeMap<(String, String), Vec<u8>>> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    // Several references (all managed keys, say) often share one Secret: get it once.
    let mut fetched: BTreeMap<String, Option<Secret>> = BTreeMap::new();
    let mut data = BTreeMap::new();
    let own = spec
        .secret_refs()
        .filter(|r| secret_is_for(requestor, &r.name));
    for reference in own {
        if !fetched.contains_key(&reference.name) {
            let secret = secrets.get_opt(&reference.name).await?;
            fetched.insert(reference.name.clone(), secret);
        }
        if let Some(Some(secret)) = fetched.get(&reference.name)
            && let Some(value) = secret.data.as_ref().and_then(|d| d.get(&reference.key))
        {
            data.insert(
                (reference.name.clone(), reference.key.clone()),
                value.0.clone(),
            );
        }
    }
    Ok(data)
}

/// The degradation rules of the spec, MVPD by MVPD.
fn degradations(requestor: &Requestor) -> Vec<DegradationStatus> {
    requestor
        .spec
        .mvpds
        .iter()
        .filter_map(|m| {
            let d = m.degradation.as_ref()?;
            Some(DegradationStatus {
                mvpd: m.id.clone(),
                rule: d.rule,
                until: d.until.clone(),
            })
        })
        .collect()
}

/// An Event for each rule set or changed (a warning: an MVPD is bypassed) and each lifted,
/// between what was last told and what the spec says now.
fn degradation_events(told: &[DegradationStatus], now: &[DegradationStatus]) -> Vec<Event> {
    let set = now.iter().filter(|d| !told.contains(d)).map(|d| Event {
        type_: EventType::Warning,
        reason: "DegradedAccess".into(),
        note: Some(format!(
            "MVPD {}: {} answers for it{}",
            d.mvpd,
            d.rule.as_str(),
            d.until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default()
        )),
        // Events of one action and reason make one series whose note is the first's: each
        // rule is an action of its own, so a change of rule is told in its own words.
        action: format!("Degrade{:?}", d.rule),
        secondary: None,
    });
    let lifted = told
        .iter()
        .filter(|d| !now.iter().any(|n| n.mvpd == d.mvpd))
        .map(|d| Event {
            type_: EventType::Normal,
            reason: "DegradedAccessLifted".into(),
            note: Some(format!("MVPD {}: answers for itself again", d.mvpd)),
            action: "Degrade".into(),
            secondary: None,
        });
    set.chain(lifted).collect()
}

/// Told when a requestor becomes valid or stops being so.
fn validity_event(validation: &Result<(), PolicyError>) -> Event {
    match validation {
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
    }
}

/// An Event is a courtesy: failing to publish one must not fail the reconcile.
async fn publish(ctx: &Context, requestor: &Requestor, event: &Event) {
    if let Err(e) = ctx
        .recorder
        .publish(event, &requestor.object_ref(&()))
        .await
    {
        tracing::warn!(name = %requestor.name_any(), error = %e, "cannot publish an Event");
    }
}

pub fn error_policy(requestor: Arc<Requestor>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(name = %requestor.name_any(), %error, "reconcile failed");
    ctx.metrics.failure(error.metric_label());
    Action::requeue(RETRY)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::api::ObjectMeta;

    use super::*;

    fn requestor(name: &str, ns: &str, spec: serde_json::Value) -> Arc<Requestor> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
                "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
                "spec": spec,
            }))
            .unwrap(),
        )
    }

    fn secret(name: &str, ns: &str, owners: Vec<OwnerReference>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                owner_references: Some(owners),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        }
    }

    #[test]
    fn a_secret_requeues_the_requestors_referring_to_it_and_its_owner() {
        let backend = json!({"backend": {"apiKeySecretRef": {"name": "shared", "key": "k"}}});
        let (a, b) = (
            requestor("a", "ns", backend.clone()),
            requestor("b", "ns", backend),
        );
        let elsewhere = requestor(
            "c",
            "other",
            json!({"backend": {"apiKeySecretRef": {"name": "shared", "key": "k"}}}),
        );
        let all = [a.clone(), b.clone(), elsewhere];
        let names = |refs: Vec<ObjectRef<Requestor>>| -> Vec<String> {
            refs.into_iter().map(|r| r.name).collect()
        };

        assert_eq!(
            names(requestors_using(&secret("shared", "ns", vec![]), &all)),
            ["a", "b"]
        );
        let owned = secret(
            "b.media-keys",
            "ns",
            vec![b.controller_owner_ref(&()).unwrap()],
        );
        let refs = requestors_using(&owned, &all);
        assert_eq!(refs, [ObjectRef::new("b").within("ns")]);
        // Owned but not controlled, or by something else: no requestor to look at.
        let mut loose = a.owner_ref(&()).unwrap();
        loose.controller = None;
        let mut foreign = a.controller_owner_ref(&()).unwrap();
        foreign.kind = "ConfigMap".into();
        let unrelated = secret("a.media-keys", "ns", vec![loose, foreign]);
        assert!(requestors_using(&unrelated, &all).is_empty());
    }
}
