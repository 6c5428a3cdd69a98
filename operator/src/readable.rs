//! The operator's watches read objects tolerantly (`linkgate_crds::Stored`): every object
//! this build can read goes on to the controllers and replication; each one it cannot is
//! logged, counted in `linkgate_operator_objects_unreadable{kind}` and reported on the
//! object itself as `Ready=False`, reason `Unreadable`, so one object never stops the work
//! on every other.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, Resource};
use linkgate_crds::{Stored, Unreadable};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::status::{READY, VALID};

/// The reason of the conditions written on an object this build cannot read.
pub const UNREADABLE: &str = "Unreadable";
/// Its own field manager, so the report takes over only the conditions, not the rest of
/// the status the controllers own.
const REPORTER: &str = "linkgate-operator-reader";

/// An object that could not be read, to report on.
struct Report {
    metadata: ObjectMeta,
    reason: String,
}

/// Whether a watch reports what it cannot read on the object, or only logs and counts it
/// (a second watch of a kind the controller already watches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reporting {
    OnTheObject,
    LogOnly,
}

/// The readable objects of `K` within `namespace` (or every namespace) as watch events,
/// resuming with backoff; unreadable ones are counted and, as `reporting` says, reported in
/// the background on `client` as they are met.
pub fn readable<K>(
    client: &Client,
    namespace: Option<&str>,
    metrics: Arc<Metrics>,
    reporting: Reporting,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    K: Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let api: Api<Stored<K>> = crate::scoped(client, namespace);
    let (reports, pending) = mpsc::unbounded_channel();
    if reporting == Reporting::OnTheObject {
        tokio::spawn(report::<K>(client.clone(), pending));
    }
    let kind = K::kind(&()).into_owned();
    let mut seen = Skipped::default();
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |event| {
            let event = event.map(|event| seen.sort(&kind, event, &reports));
            metrics.set_unreadable(&kind, seen.now.len());
            futures::future::ready(event.transpose())
        })
}

/// The unreadable objects of one kind by `namespace/name`, with why: those of the last
/// complete list and changes since (`now`), and those of a list being made.
#[derive(Default)]
struct Skipped {
    now: HashMap<String, String>,
    listing: HashMap<String, String>,
}

impl Skipped {
    /// The event of the objects that can be read; each one that cannot is noted and, when
    /// newly so, reported.
    fn sort<K: Resource<DynamicType = ()>>(
        &mut self,
        kind: &str,
        event: Event<Stored<K>>,
        reports: &mpsc::UnboundedSender<Report>,
    ) -> Option<Event<K>> {
        let mut unreadable = |listing: bool, lost: Box<Unreadable>| {
            let Unreadable { metadata, reason } = *lost;
            let key = key(&metadata);
            if self.now.get(&key) != Some(&reason) {
                tracing::warn!(%kind, object = %key, %reason, "cannot read this object; reconciling every other");
                // Nobody receives when only logging.
                let _ = reports.send(Report {
                    metadata,
                    reason: reason.clone(),
                });
            }
            let into = if listing {
                &mut self.listing
            } else {
                &mut self.now
            };
            into.insert(key, reason);
        };
        match event {
            Event::Init => {
                self.listing.clear();
                Some(Event::Init)
            }
            Event::InitApply(object) => match object.into_read() {
                Ok(object) => Some(Event::InitApply(object)),
                Err(lost) => {
                    unreadable(true, lost);
                    None
                }
            },
            Event::InitDone => {
                self.now = std::mem::take(&mut self.listing);
                Some(Event::InitDone)
            }
            Event::Apply(object) => match object.into_read() {
                Ok(object) => {
                    self.now.remove(&key(object.meta()));
                    Some(Event::Apply(object))
                }
                Err(lost) => {
                    unreadable(false, lost);
                    None
                }
            },
            Event::Delete(object) => {
                self.now.remove(&key(object.meta()));
                object.into_read().ok().map(Event::Delete)
            }
        }
    }
}

fn key(metadata: &ObjectMeta) -> String {
    let namespace = metadata.namespace.as_deref().unwrap_or_default();
    format!(
        "{namespace}/{}",
        metadata.name.as_deref().unwrap_or_default()
    )
}

/// Writes each report as the object's conditions, until the watch is gone.
async fn report<K>(client: Client, mut pending: mpsc::UnboundedReceiver<Report>)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    K: Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    while let Some(Report { metadata, reason }) = pending.recv().await {
        let (Some(namespace), Some(name)) = (&metadata.namespace, &metadata.name) else {
            continue;
        };
        let api: Api<Stored<K>> = Api::namespaced(client.clone(), namespace);
        let patch = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": {"conditions": conditions(&metadata, &reason, jiff::Timestamp::now())},
        });
        let params = PatchParams::apply(REPORTER).force();
        if let Err(e) = api.patch_status(name, &params, &Patch::Apply(&patch)).await {
            tracing::warn!(%namespace, %name, error = %e, "cannot report an unreadable object");
        }
    }
}

/// `Ready` and `Valid` false, for the object's generation, with why it cannot be read.
fn conditions(metadata: &ObjectMeta, reason: &str, now: jiff::Timestamp) -> Vec<Condition> {
    let message = format!("this operator cannot read the object: {reason}");
    [VALID, READY]
        .into_iter()
        .map(|type_| Condition {
            type_: type_.to_owned(),
            status: "False".to_owned(),
            reason: UNREADABLE.to_owned(),
            message: message.clone(),
            observed_generation: metadata.generation,
            last_transition_time: Time(now),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkgate_crds::Requestor;

    fn stored(name: &str, throttling: serde_json::Value) -> Stored<Requestor> {
        serde_json::from_value(json!({
            "apiVersion": "linkgate.dev/v1alpha1", "kind": "Requestor",
            "metadata": {"name": name, "namespace": "t"},
            "spec": {"backend": {}, "throttling": throttling},
        }))
        .unwrap()
    }

    #[test]
    fn unreadable_objects_are_held_back_counted_and_reported_once() {
        let (reports, mut sent) = mpsc::unbounded_channel();
        let mut seen = Skipped::default();
        let good = || stored("good", json!({}));
        let bad = || stored("bad", json!({"perDevice": {"false": true}}));
        let mut sort = |event| seen.sort("Requestor", event, &reports).is_some();
        assert!(sort(Event::Init));
        assert!(sort(Event::InitApply(good())));
        assert!(!sort(Event::InitApply(bad())));
        assert!(sort(Event::InitDone));
        // The same object met again, as a new list finds it, is not reported again.
        assert!(!sort(Event::Apply(bad())));
        assert!(sort(Event::Apply(good())));
        let report = sent.try_recv().unwrap();
        assert_eq!(report.metadata.name.as_deref(), Some("bad"));
        assert!(
            report.reason.contains("unknown field `false`"),
            "{}",
            report.reason
        );
        assert!(sent.try_recv().is_err(), "reported once");
        assert_eq!(seen.now.len(), 1);
        // Readable again, or deleted: no longer counted.
        assert!(
            seen.sort(
                "Requestor",
                Event::Apply(stored("bad", json!({}))),
                &reports
            )
            .is_some()
        );
        assert!(seen.now.is_empty());
    }

    #[test]
    fn the_report_sets_ready_and_valid_false_with_the_reason() {
        let metadata = ObjectMeta {
            generation: Some(3),
            ..ObjectMeta::default()
        };
        let conditions = conditions(
            &metadata,
            "spec.x: unknown field `x`",
            jiff::Timestamp::UNIX_EPOCH,
        );
        let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, [VALID, READY]);
        for c in &conditions {
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", UNREADABLE)
            );
            assert_eq!(c.observed_generation, Some(3));
            assert!(c.message.ends_with("spec.x: unknown field `x`"));
        }
    }
}
