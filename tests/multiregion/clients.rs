//! The clients of the region-loss test: each links device after device — a code, then the
//! backend's link — through its region's gateway, then reads the link back twice (the
//! second read is answered from the gateway's cache). Half use the primary's region and move
//! to the other gateway once theirs is gone, as a global load balancer would send them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use linkgate_tests::DEMO_KEY;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// Longer than a gateway holds a write whose COMMIT went unanswered (5 s, then 5 s to
/// settle it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// A client's pause after a failed call.
const BACK_OFF: Duration = Duration::from_millis(200);

/// Latencies of one phase (before or after the kill).
#[derive(Clone, Default)]
pub struct Phase {
    /// Link calls answered 201 through the primary's region's gateway.
    pub links_primary: Vec<Duration>,
    /// Link calls answered 201 through the other region's gateway.
    pub links_other: Vec<Duration>,
    /// Reads of a link just made, answered from the other region's gateway's cache.
    pub reads_other: Vec<Duration>,
}

/// What the clients saw.
#[derive(Default)]
pub struct Records {
    /// Devices whose link a gateway acknowledged (201), with their user.
    pub acknowledged: Vec<(String, String)>,
    /// Link calls answered otherwise, or not at all.
    pub unanswered: u64,
    /// When the first link sent after the kill was acknowledged.
    pub first_write_after_kill: Option<Instant>,
    pub after: Phase,
    current: Phase,
}

struct Shared {
    http: Client,
    primary: String,
    other: String,
    prefix: String,
    killed_at: std::sync::Mutex<Option<Instant>>,
    stop: AtomicBool,
    records: Mutex<Records>,
}

pub struct Clients {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Clients {
    /// Starts `count` clients: even ones on `primary` (the primary's region's gateway),
    /// odd ones on `other`; devices are named after `prefix`.
    pub fn start(count: usize, primary: &str, other: &str, prefix: &str) -> Self {
        let shared = Arc::new(Shared {
            http: Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            primary: primary.trim_end_matches('/').to_owned(),
            other: other.trim_end_matches('/').to_owned(),
            prefix: prefix.to_owned(),
            killed_at: std::sync::Mutex::new(None),
            stop: AtomicBool::new(false),
            records: Mutex::new(Records::default()),
        });
        let tasks = (0..count)
            .map(|i| tokio::spawn(client(Arc::clone(&shared), i)))
            .collect();
        Self { shared, tasks }
    }

    /// The latencies so far, starting a new phase.
    pub async fn phase(&self) -> Phase {
        std::mem::take(&mut self.shared.records.lock().await.current)
    }

    /// The primary's region was lost at `at`: its clients move to the other gateway.
    pub fn lost_a_gateway(&self, at: Instant) {
        *self.shared.killed_at.lock().expect("not poisoned") = Some(at);
    }

    /// Stops the clients once their calls are answered; what they saw, the phase since
    /// `phase` as `after`.
    pub async fn stop(self) -> Records {
        self.shared.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a client ran to its end");
        }
        let mut records = std::mem::take(&mut *self.shared.records.lock().await);
        records.after = std::mem::take(&mut records.current);
        records
    }
}

async fn client(shared: Arc<Shared>, index: usize) {
    let mut n = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        n += 1;
        let killed_at = *shared.killed_at.lock().expect("not poisoned");
        let on_primary = index.is_multiple_of(2) && killed_at.is_none();
        let base = match on_primary {
            true => &shared.primary,
            false => &shared.other,
        };
        let (device, user) = (
            format!("{}-c{index}-{n}", shared.prefix),
            format!("u{index}x{n}"),
        );
        if !link_one(&shared, base, on_primary, &device, &user, killed_at).await {
            tokio::time::sleep(BACK_OFF).await;
        }
    }
}

/// One device: its code, its link, two reads. Whether the link was acknowledged.
async fn link_one(
    shared: &Shared,
    base: &str,
    on_primary: bool,
    device: &str,
    user: &str,
    killed_at: Option<Instant>,
) -> bool {
    let issued = shared
        .http
        .post(format!("{base}/v1/requestors/demo/codes"))
        .json(&json!({"deviceId": device}))
        .send()
        .await;
    let code = match issued {
        Ok(response) if response.status() == StatusCode::CREATED => {
            let body: Value = response.json().await.unwrap_or_default();
            body["displayCode"].as_str().unwrap_or_default().to_owned()
        }
        _ => return false,
    };
    let sent = Instant::now();
    let linked = shared
        .http
        .post(format!("{base}/v1/requestors/demo/links"))
        .bearer_auth(DEMO_KEY)
        .json(&json!({"code": code, "userId": user, "mvpd": "test-mvpd"}))
        .send()
        .await;
    let took = sent.elapsed();
    if !matches!(&linked, Ok(r) if r.status() == StatusCode::CREATED) {
        shared.records.lock().await.unanswered += 1;
        return false;
    }
    {
        let mut records = shared.records.lock().await;
        records
            .acknowledged
            .push((device.to_owned(), user.to_owned()));
        match on_primary {
            true => records.current.links_primary.push(took),
            false => records.current.links_other.push(took),
        }
        if killed_at.is_some_and(|k| sent >= k) && records.first_write_after_kill.is_none() {
            records.first_write_after_kill = Some(Instant::now());
        }
    }
    let authn = format!("{base}/v1/requestors/demo/devices/{device}/authn");
    for read in 0..2 {
        let begun = Instant::now();
        let answered = shared.http.get(&authn).bearer_auth(DEMO_KEY).send().await;
        if read == 1 && !on_primary && matches!(&answered, Ok(r) if r.status() == StatusCode::OK) {
            shared
                .records
                .lock()
                .await
                .current
                .reads_other
                .push(begun.elapsed());
        }
    }
    true
}

/// The `p`th percentile of `samples`, if any.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
        .copied()
}
