//! The DeviceLink controller: collects what has expired — codes, users, whole links and, in
//! time, tombstones — and writes each link's phase and next expiry to its status.
//!
//! Proxies write DeviceLink specs concurrently, so every write here is conditional on the
//! resourceVersion that was read: a conflict means a proxy wrote first (perhaps a new link),
//! and the object is looked at again rather than overwritten.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, WatchStreamExt, reflector, watcher};
use kube::{Resource, ResourceExt};
use linkgate_crds::{DeviceLink, DeviceLinkStatus};
use serde_json::json;

use crate::context::{Context, MANAGER};
use crate::error::{Error, Result};
use crate::lifecycle::{self, Plan, status_time};

/// However far the next expiry, every link is looked at this often, so a missed one heals.
const MAX_REQUEUE: Duration = Duration::from_secs(300);
/// How soon a failed reconcile is tried again.
const RETRY: Duration = Duration::from_secs(15);
/// How soon a link that changed under a write is looked at again.
const RETRY_CONFLICT: Duration = Duration::from_secs(1);

/// Runs the controller over the links `watched` until `shutdown` resolves, then lets
/// running reconciles finish.
pub fn run(
    watched: impl Stream<Item = Result<watcher::Event<DeviceLink>, watcher::Error>> + Send + 'static,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let (links, writer) = reflector::store();
    Controller::for_stream(watched.reflect(writer).applied_objects(), links)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|outcome| async move {
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "device link reconcile outcome");
            }
        })
}

pub async fn reconcile(link: Arc<DeviceLink>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile();
    reconcile_at(link, &ctx, Timestamp::now()).await
}

/// The reconcile as of `now`.
async fn reconcile_at(link: Arc<DeviceLink>, ctx: &Context, now: Timestamp) -> Result<Action> {
    let ns = link.namespace().ok_or(Error::MissingNamespace)?;
    let name = link.name_any();
    let version = link
        .resource_version()
        .ok_or(Error::MissingResourceVersion)?;
    let api: Api<DeviceLink> = Api::namespaced(ctx.client.clone(), &ns);

    let (written, outlook) = match lifecycle::plan(&link.spec, now) {
        Plan::Delete => {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: Some(version),
                    uid: link.uid(),
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => tracing::info!(%ns, %name, "deleted an expired device link"),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(Error::from_write(e)),
            }
            return Ok(Action::await_change());
        }
        Plan::Replace(spec, outlook) => {
            let mut next = (*link).clone();
            next.spec = *spec;
            // The status subresource ignores it, and the server keeps the field managers.
            next.status = None;
            next.metadata.managed_fields = None;
            let params = PostParams {
                field_manager: Some(MANAGER.into()),
                ..PostParams::default()
            };
            let written = api
                .replace(&name, &params, &next)
                .await
                .map_err(Error::from_write)?;
            (Some(written), outlook)
        }
        Plan::Keep(outlook) => (None, outlook),
    };

    let current = written.as_ref().unwrap_or(&link);
    // Only the fields this controller owns: each peer region's entry has its own manager.
    let status = DeviceLinkStatus {
        phase: Some(outlook.phase),
        expires_at: Some(status_time(outlook.expires_at)),
        observed_generation: current.meta().generation,
        ..DeviceLinkStatus::default()
    };
    let previous = current.status.clone().unwrap_or_default();
    let unchanged = (
        previous.phase,
        &previous.expires_at,
        previous.observed_generation,
    ) == (status.phase, &status.expires_at, status.observed_generation);
    // Writing an unchanged status would only wake this controller again.
    if !unchanged {
        let patch = json!({
            "apiVersion": "linkgate.dev/v1alpha1",
            "kind": "DeviceLink",
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }
    let until_next = (outlook.next_change - now).try_into().unwrap_or_default();
    Ok(Action::requeue(MAX_REQUEUE.min(until_next)))
}

pub fn error_policy(link: Arc<DeviceLink>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(error.metric_label());
    if matches!(error, Error::Conflict) {
        tracing::debug!(name = %link.name_any(), "device link changed under a write");
        return Action::requeue(RETRY_CONFLICT);
    }
    tracing::warn!(name = %link.name_any(), %error, "device link reconcile failed");
    Action::requeue(RETRY)
}

#[cfg(test)]
mod tests {
    use http::Method;
    use jiff::SignedDuration;
    use serde_json::Value;

    use super::*;
    use crate::metrics::Metrics;
    use crate::mock_api::{self, ApiServer, conflict};
    use linkgate_domain::tenancy::Bounds;

    const PATH: &str = "/apis/linkgate.dev/v1alpha1/namespaces/tv/devicelinks/demo-tv";
    const NOW: &str = "2027-01-15T10:00:00Z";

    fn context() -> (Arc<Context>, ApiServer) {
        let (client, server) = mock_api::client();
        let ctx = Context::new(
            client,
            Arc::new(Metrics::new()),
            None,
            Duration::from_secs(60),
            None,
            Bounds::default(),
            kube::runtime::reflector::store().0,
        );
        (Arc::new(ctx), server)
    }

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// The time `secs` from now, as the API writes a spec's times (microseconds).
    fn at(secs: i64) -> String {
        let t = now() + SignedDuration::from_secs(secs);
        t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    /// The same as a status time (whole seconds).
    fn status_at(secs: i64) -> String {
        let t = now() + SignedDuration::from_secs(secs);
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// A link as read from the API server: resourceVersion 41, generation 3.
    fn link(spec: Value, status: Value) -> Arc<DeviceLink> {
        let mut full = json!({"requestor": "demo", "deviceId": "tv"});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "linkgate.dev/v1alpha1", "kind": "DeviceLink",
                "metadata": {"name": "demo-tv", "namespace": "tv", "uid": "u1",
                             "resourceVersion": "41", "generation": 3},
                "spec": full, "status": status,
            }))
            .unwrap(),
        )
    }

    fn code(expires_in: i64, state: &str) -> Value {
        json!({"hash": "a".repeat(64), "id": "c1", "issuedAt": at(-600),
               "expiresAt": at(expires_in), "state": state})
    }

    fn user(authn_expires_in: i64) -> Value {
        json!({"userId": "alice", "mvpd": "test-mvpd", "linkedAt": at(-600),
               "authnExpiresAt": at(authn_expires_in)})
    }

    /// Runs the reconcile against the scripted server, as a task the test can await.
    fn start(
        read: &Arc<DeviceLink>,
        ctx: &Arc<Context>,
    ) -> tokio::task::JoinHandle<Result<Action>> {
        let (read, ctx) = (Arc::clone(read), Arc::clone(ctx));
        tokio::spawn(async move { reconcile_at(read, &ctx, now()).await })
    }

    #[tokio::test]
    async fn an_expired_code_is_removed_by_a_conditional_replace_then_the_status_applied() {
        let (ctx, mut server) = context();
        let read = link(
            json!({"code": code(-60, "Redeemed"), "users": [user(3600)]}),
            json!({"phase": "Linked", "observedGeneration": 3}),
        );
        let reconcile = start(&read, &ctx);

        let put = server.expect(Method::PUT, PATH).await;
        assert_eq!(put.body["metadata"]["resourceVersion"], "41");
        assert_eq!(put.body["spec"].get("code"), None, "{}", put.body);
        assert_eq!(put.body["spec"]["users"], json!([user(3600)]));
        let mut written = put.body.clone();
        written["metadata"]["resourceVersion"] = json!("42");
        written["metadata"]["generation"] = json!(4);
        put.answer(200, &written);

        let patch = server
            .expect(Method::PATCH, &format!("{PATH}/status"))
            .await;
        assert!(patch.query.contains("fieldManager=linkgate-operator"));
        assert!(patch.query.contains("force=true"));
        assert_eq!(
            patch.body["status"],
            json!({"phase": "Linked", "expiresAt": status_at(3600), "observedGeneration": 4})
        );
        patch.answer(200, &written);

        // The user expires in an hour: looked at again before that, at the latest in 5 min.
        let action = reconcile.await.unwrap().expect("reconciled");
        assert_eq!(action, Action::requeue(MAX_REQUEUE));
        server.expect_no_more().await;
    }

    #[tokio::test]
    async fn a_conflict_on_the_replace_retries_soon_without_a_status_patch() {
        let (ctx, mut server) = context();
        let read = link(
            json!({"code": code(-60, "Redeemed"), "users": [user(3600)]}),
            json!({}),
        );
        let reconcile = start(&read, &ctx);

        server
            .expect(Method::PUT, PATH)
            .await
            .answer(409, &conflict());
        let error = reconcile.await.unwrap().expect_err("a conflict");
        assert!(matches!(error, Error::Conflict), "{error}");
        server.expect_no_more().await;

        let action = error_policy(read, &error, Arc::clone(&ctx));
        assert_eq!(action, Action::requeue(RETRY_CONFLICT));
        let metrics = ctx.metrics.render();
        assert!(
            metrics.contains("linkgate_operator_reconcile_errors_total{error=\"conflict\"} 1"),
            "{metrics}"
        );
    }

    #[tokio::test]
    async fn a_link_with_nothing_live_is_deleted_on_condition_of_its_version() {
        let (ctx, mut server) = context();
        let read = link(json!({"users": [user(-1)]}), json!({}));
        let reconcile = start(&read, &ctx);

        let delete = server.expect(Method::DELETE, PATH).await;
        assert_eq!(
            delete.body["preconditions"],
            json!({"resourceVersion": "41", "uid": "u1"})
        );
        let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Success"});
        delete.answer(200, &gone);

        assert_eq!(reconcile.await.unwrap().unwrap(), Action::await_change());
        server.expect_no_more().await;
    }

    #[tokio::test]
    async fn a_delete_that_conflicts_is_a_conflict() {
        let (ctx, mut server) = context();
        let read = link(json!({"code": code(0, "Pending")}), json!({}));
        let reconcile = start(&read, &ctx);

        server
            .expect(Method::DELETE, PATH)
            .await
            .answer(409, &conflict());
        let error = reconcile.await.unwrap().expect_err("a conflict");
        assert!(matches!(error, Error::Conflict), "{error}");
        server.expect_no_more().await;
    }

    #[tokio::test]
    async fn a_tombstone_gets_its_status_and_its_spec_is_left_alone() {
        let (ctx, mut server) = context();
        let read = link(
            json!({"code": code(-60, "Redeemed"), "users": [user(120)], "revokedAt": at(-5)}),
            json!({}),
        );
        let reconcile = start(&read, &ctx);

        let patch = server
            .expect(Method::PATCH, &format!("{PATH}/status"))
            .await;
        assert_eq!(
            patch.body["status"],
            json!({"phase": "Revoked", "expiresAt": status_at(120), "observedGeneration": 3})
        );
        patch.answer(200, &serde_json::to_value(&*read).unwrap());

        let action = reconcile.await.unwrap().unwrap();
        assert_eq!(action, Action::requeue(Duration::from_secs(120)));
        server.expect_no_more().await;
    }

    #[tokio::test]
    async fn an_unchanged_status_is_not_written_again() {
        let (ctx, mut server) = context();
        let read = link(
            json!({"code": code(30, "Pending")}),
            json!({"phase": "Pending", "expiresAt": status_at(30), "observedGeneration": 3}),
        );
        let action = start(&read, &ctx).await.unwrap().unwrap();
        server.expect_no_more().await;
        assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    }
}
