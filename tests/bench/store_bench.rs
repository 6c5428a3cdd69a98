//! A store holding many links: how long it takes to fill and to open, how fast a link is
//! found, how fast new links are written by concurrent clients, how much memory the gateway
//! process holds for it and how many bytes each link takes where it is kept.
//!
//! `store-bench [LINKS]` (default 1,000,000) measures the embedded file store;
//! `store-bench --backend postgres --database-url URL LINKS` a PostgreSQL database, read
//! through the proxy's bounded link cache (`--cached-links`), where a lookup is measured
//! both missing the cache (a query) and hitting it; `--backend kubernetes` DeviceLinks on the
//! API server `KUBECONFIG` names, written one by one by 32 clients (the bytes they take
//! there are measured by the caller, `stores.py`). Prints one JSON object. The links are
//! written by a child process (`--fill`), so the memory measured is that of a gateway process
//! opening the store, not of the one that filled it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use linkgate_database::DatabaseUrl;
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{DeviceLink, LinkedUser};
use linkgate_domain::time::SystemClock;
use linkgate_domain::time::Timestamp;
use linkgate_proxy::cluster::Cluster;
use linkgate_proxy::store::{FileStore, KubeStore, LinkKey, PgStore, Store};

/// Lookups timed where every link is in the gateway's memory.
const LOOKUPS: usize = 1_000_000;
/// Concurrent clients writing new links.
const WRITERS: usize = 32;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Backend {
    File,
    Postgres,
    Kubernetes,
}

#[derive(Parser)]
struct Args {
    /// Links stored before anything is measured.
    #[arg(default_value_t = 1_000_000)]
    links: usize,
    #[arg(long, value_enum, default_value = "file")]
    backend: Backend,
    /// The database of the postgres backend (emptied links table expected).
    #[arg(long, env = "LINKGATE_DATABASE_URL")]
    database_url: Option<DatabaseUrl>,
    /// The namespace of the kubernetes backend's DeviceLinks (the API server from
    /// `KUBECONFIG`; the CRDs installed).
    #[arg(long, default_value = "bench")]
    namespace: String,
    /// Links the postgres backend remembers (the proxy's `store.cachedLinks`).
    #[arg(long, default_value_t = 100_000)]
    cached_links: u64,
    /// Seconds of new links written by 32 concurrent clients (0: no writes).
    #[arg(long, default_value_t = 10)]
    write_secs: u64,
    /// Fills the store in DIR (file backend) and exits; run by the bench itself.
    #[arg(long, hide = true)]
    fill: Option<String>,
}

fn link(device: &str, i: usize) -> DeviceLink {
    DeviceLink {
        credential: None,
        requestor: "bench".into(),
        device: DeviceId::parse(device).expect("valid ID"),
        users: vec![LinkedUser {
            user: UserId::parse(&format!("user-{i:08}")).expect("valid ID"),
            mvpd: Some("test-mvpd".into()),
            linked_at: Timestamp::from_unix_millis(1_800_000_000_000),
            authn_expires_at: Timestamp::from_unix_millis(1_900_000_000_000),
            metadata: Default::default(),
        }],
    }
}

/// The device of the `i`th link the store is filled with.
fn device(i: usize) -> String {
    format!("device-{i:08}")
}

fn stored(i: usize) -> DeviceLink {
    link(&device(i), i)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The gateway's allocator, so that the memory measured is the gateway's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn open(args: &Args, dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match args.backend {
        Backend::Kubernetes => Arc::new(KubeStore::start(
            Arc::new(Cluster::connect(args.namespace.clone())?),
            "bench".into(),
            Arc::new(SystemClock),
            Arc::new(linkgate_proxy::metrics::Metrics::new()),
        )?),
        Backend::File => Arc::new(FileStore::open(dir)?),
        Backend::Postgres => Arc::new(PgStore::connect(
            args.database_url.as_ref().expect("checked in main"),
            WRITERS,
            args.cached_links,
            Default::default(),
        )?),
    })
}

fn fill(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let links = (0..args.links).map(stored);
    match args.backend {
        Backend::File => {
            FileStore::open(dir)?.import(links)?;
        }
        Backend::Postgres => {
            let url = args.database_url.as_ref().expect("checked in main");
            PgStore::connect(url, 2, 1, Default::default())?.import(links)?;
        }
        // No bulk path: links arrive as the gateway writes them.
        Backend::Kubernetes => {
            let (store, count) = (open(args, dir)?, args.links);
            let next = move |client, i| {
                let n = i * WRITERS + client;
                (n < count).then(|| stored(n))
            };
            tokio::runtime::Runtime::new()?.block_on(write_concurrently(store, next))?;
        }
    }
    Ok(())
}

/// Runs `WRITERS` clients, each writing the new links `next(client, i)` gives it until it
/// gives none; returns how many were written.
async fn write_concurrently(
    store: Arc<dyn Store>,
    next: impl Fn(usize, usize) -> Option<DeviceLink> + Send + Sync + 'static,
) -> anyhow::Result<usize> {
    let (next, written) = (Arc::new(next), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..WRITERS)
        .map(|client| {
            let (store, next, written) =
                (Arc::clone(&store), Arc::clone(&next), Arc::clone(&written));
            tokio::spawn(async move {
                let mut i = 0;
                while let Some(link) = next(client, i) {
                    store.put_link(None, link).await?;
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for client in clients {
        client.await??;
    }
    Ok(written.load(Ordering::Relaxed))
}

/// Where each link lives: the file store's file, or the database's links table (the API
/// server's etcd is measured by the caller).
async fn bytes_per_link(args: &Args, dir: &Path) -> anyhow::Result<Option<f64>> {
    let bytes = match args.backend {
        Backend::Kubernetes => return Ok(None),
        Backend::File => std::fs::read_dir(dir)?
            .map(|e| Ok(e?.metadata()?.len()))
            .sum::<anyhow::Result<u64>>()?,
        Backend::Postgres => {
            let url = args.database_url.as_ref().expect("checked in main");
            let (client, connection) =
                tokio_postgres::connect(url.expose(), tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let size: i64 = client
                .query_one("SELECT pg_total_relation_size('links')", &[])
                .await?
                .get(0);
            u64::try_from(size)?
        }
    };
    Ok(Some(bytes as f64 / args.links as f64))
}

/// Keys of `n` stored links, chosen at random (the same sequence every run), made one at a
/// time so that they take no memory the measurement would count.
fn random_keys(links: usize, n: usize) -> impl Iterator<Item = LinkKey> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = usize::try_from(x % links as u64).expect("fits");
        LinkKey::new("bench", &DeviceId::parse(&device(i)).expect("valid ID"))
    })
}

/// Microseconds each lookup of `keys` took (the lookup alone), sorted.
async fn lookups(
    store: &dyn Store,
    keys: impl Iterator<Item = LinkKey>,
) -> anyhow::Result<Vec<f64>> {
    let mut micros = Vec::with_capacity(keys.size_hint().0);
    for key in keys {
        let started = Instant::now();
        let found = store.link(&key).await?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(found.is_some(), "a stored link was not found");
    }
    micros.sort_unstable_by(f64::total_cmp);
    Ok(micros)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// New links written per second by `WRITERS` clients for `secs`.
async fn writes(store: Arc<dyn Store>, secs: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let next = move |client, i| {
        let device = format!("new-{client:02}-{i:08}");
        (Instant::now() < deadline).then(|| link(&device, i))
    };
    let written = write_concurrently(store, next).await?;
    Ok(written as f64 / started.elapsed().as_secs_f64())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.backend != Backend::Postgres || args.database_url.is_some(),
        "the postgres backend needs --database-url or LINKGATE_DATABASE_URL"
    );
    if let Some(dir) = &args.fill {
        return fill(&args, Path::new(dir));
    }
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let filled = std::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .arg("--fill")
        .arg(dir.path())
        .status()?;
    anyhow::ensure!(filled.success(), "filling the store failed");
    let import_s = started.elapsed().as_secs_f64();

    let rss_before = rss_kib();
    let started = Instant::now();
    let store = open(&args, dir.path())?;
    let load_s = started.elapsed().as_secs_f64();
    let rss_opened = rss_kib();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let bytes_per_link = bytes_per_link(&args, dir.path()).await?;
        let mut out = serde_json::json!({
            "backend": args.backend.to_possible_value().expect("not skipped").get_name(),
            "links": args.links,
            "import_s": round(import_s, 2),
            "load_s": round(load_s, 2),
            "rss_mib": round(rss_opened as f64 / 1024.0, 0),
            "store_rss_mib": round(rss_opened.saturating_sub(rss_before) as f64 / 1024.0, 0),
            "bytes_per_link": bytes_per_link.map(|b| round(b, 0)),
        });
        let put = |out: &mut serde_json::Value, name: &str, value: f64, digits: i32| {
            out[name] = serde_json::json!(round(value, digits));
        };
        match args.backend {
            Backend::File | Backend::Kubernetes => {
                let all = lookups(&*store, random_keys(args.links, LOOKUPS)).await?;
                put(&mut out, "lookup_p50_us", pct(&all, 0.5), 3);
                put(&mut out, "lookup_p99_us", pct(&all, 0.99), 3);
                put(&mut out, "lookup_p999_us", pct(&all, 0.999), 3);
            }
            Backend::Postgres => {
                // More distinct links than the cache holds, so that it is full when the
                // memory is read; nearly every one of them a query.
                let cached = usize::try_from(args.cached_links)?;
                let asked = cached + cached / 2;
                let missed = lookups(&*store, random_keys(args.links, asked)).await?;
                put(&mut out, "uncached_p50_us", pct(&missed, 0.5), 1);
                put(&mut out, "uncached_p99_us", pct(&missed, 0.99), 1);
                // The newest links asked for, asked twice more: the second time, the
                // cache's answers.
                let hot = || random_keys(args.links, asked).skip(asked - cached / 10);
                lookups(&*store, hot()).await?;
                let hit = lookups(&*store, hot()).await?;
                put(&mut out, "cached_p50_us", pct(&hit, 0.5), 2);
                put(&mut out, "cached_p99_us", pct(&hit, 0.99), 2);
            }
        }
        // The postgres backend's cache is full now.
        put(
            &mut out,
            "rss_after_lookups_mib",
            rss_kib() as f64 / 1024.0,
            0,
        );
        if args.write_secs > 0 {
            let rate = writes(Arc::clone(&store), args.write_secs).await?;
            put(&mut out, "writes_per_s", rate, 0);
        }
        println!("{out}");
        Ok(())
    })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
