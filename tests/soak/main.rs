//! A soak: the real gateway under a steady mixed load for a bounded time, on the file or the
//! PostgreSQL store, sampled every period for resident memory, open descriptors, what the
//! store holds and p99. It passes when memory and descriptors level off after the warm-up,
//! the store holds the links that are live and has collected the rest, p99 at the end is
//! within bounds of p99 at the start, and every answer had the status it must have.
//!
//!     soak --store file|postgres --seconds 300

mod load;
mod samples;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use linkgate_tests::{DEMO_KEY, Gateway, TEST_SIGNING_KEY};
use load::{Load, REQUESTOR};
use samples::{Bounds, Sample};

/// How long a link lives: short, so that the run collects many.
const LINK_SECONDS: u64 = 30;
/// How often the gateway collects expired links (its own period).
const COLLECTION_SECONDS: u64 = 60;

#[derive(Parser)]
struct Args {
    /// `file` or `postgres` (a database of its own on the test server).
    #[arg(long, default_value = "file")]
    store: String,
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Each client starts a device's walk this often.
    #[arg(long, default_value_t = 250)]
    pace_ms: u64,
    #[arg(long, default_value_t = 10)]
    sample_seconds: u64,
}

fn config(origin_port: u16, store: &str) -> String {
    let pem: String = TEST_SIGNING_KEY
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    format!(
        "{store}codeKeySecretRef: {{name: codes, key: key}}\n{}secrets:\n  codes: {{key: one-key-for-the-soak-gateway-000000}}\n\
         \x20 backend: {{apiKey: {DEMO_KEY}}}\n  media:\n    key: |\n{pem}requestors:\n  - name: {REQUESTOR}\n    spec:\n\
         \x20     throttling: {{perClientIp: null}}\n\
         \x20     mvpds: [{{id: test-mvpd, authnTtlSeconds: {LINK_SECONDS}, decision: {{allow: ['*']}}}}]\n\
         \x20     mediaTokens: {{signingKeys: [{{id: k1, privateKeySecretRef: {{name: media, key: key}}}}]}}\n\
         \x20     backend: {{apiKeySecretRef: {{name: backend, key: apiKey}}}}\n\
         \x20     routes:\n        - {{prefix: /news, upstream: {{host: 127.0.0.1, port: {origin_port}}}, resource: news}}\n",
        linkgate_tests::LOOPBACK_HTTP
    )
}

async fn gateway(store: &str, origin_port: u16) -> Gateway {
    match store {
        "file" => Gateway::with_config(&config(origin_port, "")).await,
        "postgres" => {
            let url = linkgate_tests::postgres::fresh_database("soak").await;
            let env = vec![("LINKGATE_DATABASE_URL".to_owned(), url.into())];
            let store = "store: {backend: postgres}\n";
            Gateway::with_config_env(&config(origin_port, store), env).await
        }
        other => panic!("no store {other:?}: file or postgres"),
    }
}

/// The links made within the last `seconds`, as of `now_ms`.
fn made_within(linked_at: &[u64], now_ms: u64, seconds: u64) -> u64 {
    let since = now_ms.saturating_sub(seconds * 1000);
    linked_at.iter().filter(|t| **t > since).count() as u64
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let origin = axum::Router::new().fallback(|| async { "ok" });
    let (origin_addr, _origin) = linkgate_tests::serve(origin, "127.0.0.1", 0).await;
    let gw = gateway(&args.store, origin_addr.port()).await;
    let load = Load::new(gw.url(""));
    let deadline = load.started + Duration::from_secs(args.seconds);

    let clients: Vec<_> = (0..args.clients)
        .map(|client| {
            let load = Arc::clone(&load);
            let pace = Duration::from_millis(args.pace_ms);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(pace);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                for n in 0.. {
                    tick.tick().await;
                    if std::time::Instant::now() >= deadline {
                        break;
                    }
                    load.walk(&format!("soak-{client}-{n}")).await;
                }
            })
        })
        .collect();

    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(args.sample_seconds));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    while std::time::Instant::now() < deadline {
        tick.tick().await;
        let latencies = std::mem::take(&mut *load.window.lock().await);
        let mut latencies = latencies;
        let metrics = gw.metrics().await;
        let now_ms = u64::try_from(load.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let linked_at = load.linked_at.lock().await;
        // A link made just now may not be counted yet; one made a lifetime ago may still
        // be, until the next collection.
        let live = made_within(&linked_at, now_ms, LINK_SECONDS - 2);
        let collectable = made_within(
            &linked_at,
            now_ms,
            LINK_SECONDS + COLLECTION_SECONDS + args.sample_seconds + 2,
        );
        drop(linked_at);
        let sample = Sample {
            at_secs: now_ms / 1000,
            rss_kib: samples::rss_kib(gw.pid()),
            fds: samples::fds(gw.pid()),
            links: samples::gauge(&metrics, "linkgate_store_links"),
            codes: samples::gauge(&metrics, "linkgate_store_codes"),
            live,
            collectable,
            requests: latencies.len(),
            p99_us: samples::p99(&mut latencies),
        };
        eprintln!("{sample:?}");
        samples.push(sample);
    }
    for client in clients {
        client.await.expect("a client");
    }

    let bounds = Bounds {
        warm_up_secs: (args.seconds * 2 / 5).max(LINK_SECONDS + COLLECTION_SECONDS),
        rss_growth: 0.10,
        rss_slack_kib: 4096,
        fd_slack: 8,
        p99_growth: 0.20,
        p99_samples: 3,
    };
    // The gateway goes first: `exit` below runs no destructor, and it must not outlive us.
    drop(gw);
    let wrong = load.wrong.lock().await.clone();
    let (table, failed) = samples::verdict(&samples, &bounds, (wrong.0, &wrong.1));
    let requests = load.requests.load(Ordering::Relaxed);
    println!(
        "soak, {} store, {} s, {requests} requests\n\n{table}",
        args.store, args.seconds
    );
    if failed.is_empty() {
        println!("soak passed");
    } else {
        for f in &failed {
            println!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
