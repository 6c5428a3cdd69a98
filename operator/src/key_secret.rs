//! The Secret holding a requestor's managed media-token keys: read it, plan the keys, and
//! write it back when the plan changes it — before any status names a key in it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Resource, ResourceExt};
use linkgate_crds::Requestor;

use crate::context::{Context, MANAGER};
use crate::error::{Error, Result};
use crate::keys::{self, Plan};

/// Marks the Secrets the operator made, for people and label selectors.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", MANAGER);

/// Makes `<requestor>.media-keys` hold exactly the planned keys, creating, rotating, healing
/// and pruning as planned; returns the plan, whose keys the status is to list.
pub async fn ensure(
    ctx: &Context,
    requestor: &Requestor,
    ns: &str,
    now: Timestamp,
) -> Result<Plan> {
    let name = requestor.name_any();
    let secret_name = keys::secret_name(&name);
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let existing = api.get_opt(&secret_name).await?;
    let owner = requestor
        .controller_owner_ref(&())
        .ok_or(Error::MissingUid)?;
    if let Some(secret) = &existing
        && !secret
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.uid == owner.uid)
    {
        return Err(Error::ForeignKeySecret(secret_name));
    }
    let data = existing
        .as_ref()
        .and_then(|s| s.data.clone())
        .unwrap_or_default();
    let stored: BTreeSet<String> = data.keys().cloned().collect();
    let current = requestor
        .status
        .as_ref()
        .map(|s| s.media_keys.as_slice())
        .unwrap_or_default();
    let plan = keys::plan(
        &name,
        current,
        &stored,
        &requestor.spec.media_tokens,
        ctx.clock_skew,
        now,
    );

    // Exactly the planned keys: retired ones and strays (from a write whose status never
    // followed) go.
    let mut wanted: BTreeMap<String, ByteString> = plan
        .keys
        .iter()
        .filter_map(|k| data.get_key_value(&k.secret_ref.key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some((id, _)) = &plan.new_key {
        let pem = keys::generate_pem().map_err(Error::KeyEncoding)?;
        wanted.insert(keys::data_key(id), ByteString(pem.into_bytes()));
    }
    write(&api, ns, existing, secret_name, owner, wanted).await?;
    Ok(plan)
}

/// Makes the Secret hold exactly `wanted`, creating it owned by the requestor.
async fn write(
    api: &Api<Secret>,
    ns: &str,
    existing: Option<Secret>,
    name: String,
    owner: OwnerReference,
    wanted: BTreeMap<String, ByteString>,
) -> Result<()> {
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..PostParams::default()
    };
    match existing {
        None => {
            let secret = Secret {
                metadata: ObjectMeta {
                    namespace: Some(ns.to_owned()),
                    name: Some(name),
                    labels: Some(BTreeMap::from([(
                        MANAGED_BY.0.to_owned(),
                        MANAGED_BY.1.to_owned(),
                    )])),
                    owner_references: Some(vec![owner]),
                    ..ObjectMeta::default()
                },
                data: Some(wanted),
                ..Secret::default()
            };
            api.create(&params, &secret).await?;
        }
        // Replacing carries the resourceVersion read above: a concurrent change fails this
        // write (and the reconcile is retried) instead of being overwritten.
        Some(mut secret) if secret.data.as_ref() != Some(&wanted) => {
            secret.data = Some(wanted);
            api.replace(&name, &params, &secret).await?;
        }
        Some(_) => {}
    }
    Ok(())
}
