//! The embedded store with a million links: how long it takes to load, how fast a link is
//! found, and how much memory it holds.
//!
//! `store-bench [LINKS]` (default 1,000,000); prints one JSON object. The links are imported
//! by a child process (`store-bench --import DIR LINKS`), so the memory measured is that of
//! a gateway process loading the store, not of the one that wrote it.

use std::time::Instant;

use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{DeviceLink, LinkedUser};
use linkgate_domain::time::Timestamp;
use linkgate_proxy::store::{FileStore, LinkKey, Store};

const LOOKUPS: usize = 1_000_000;

fn link(i: usize) -> DeviceLink {
    DeviceLink {
        credential: None,
        requestor: "bench".into(),
        device: DeviceId::parse(&format!("device-{i:08}")).expect("valid ID"),
        users: vec![LinkedUser {
            user: UserId::parse(&format!("user-{i:08}")).expect("valid ID"),
            mvpd: Some("test-mvpd".into()),
            linked_at: Timestamp::from_unix_millis(1_800_000_000_000),
            authn_expires_at: Timestamp::from_unix_millis(1_900_000_000_000),
            metadata: Default::default(),
        }],
    }
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

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir, links] = args.as_slice()
        && flag == "--import"
    {
        let links: usize = links.parse()?;
        FileStore::open(std::path::Path::new(dir))?.import((0..links).map(link))?;
        return Ok(());
    }
    let links: usize = args.first().map_or(Ok(1_000_000), |n| n.parse())?;
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let imported = std::process::Command::new(std::env::current_exe()?)
        .arg("--import")
        .arg(dir.path())
        .arg(links.to_string())
        .status()?;
    anyhow::ensure!(imported.success(), "the import failed");
    let import_s = started.elapsed().as_secs_f64();

    let rss_before = rss_kib();
    let started = Instant::now();
    let store = FileStore::open(dir.path())?;
    let load_s = started.elapsed().as_secs_f64();
    let rss_after = rss_kib();

    // Keys made up front, so the timings are of the lookups alone.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let keys: Vec<LinkKey> = (0..LOOKUPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = usize::try_from(x % links as u64).expect("fits");
            LinkKey::new(
                "bench",
                &DeviceId::parse(&format!("device-{i:08}")).expect("valid"),
            )
        })
        .collect();
    // Reads are async (a database backend may have to ask); the gateway's own runtime
    // polls them where this one does.
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    assert_eq!(runtime.block_on(store.counts())?.links, links);
    let mut nanos: Vec<u64> = Vec::with_capacity(LOOKUPS);
    for key in &keys {
        let started = Instant::now();
        let found = runtime.block_on(store.link(key))?;
        nanos.push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        assert!(found.is_some());
    }
    nanos.sort_unstable();
    let pct = |p: f64| nanos[((nanos.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    println!(
        "{{\"links\": {links}, \"import_s\": {import_s:.2}, \"load_s\": {load_s:.2}, \"rss_mib\": {:.0}, \"store_rss_mib\": {:.0}, \"lookup_p50_us\": {:.3}, \"lookup_p99_us\": {:.3}, \"lookup_p999_us\": {:.3}}}",
        rss_after as f64 / 1024.0,
        rss_after.saturating_sub(rss_before) as f64 / 1024.0,
        pct(0.50),
        pct(0.99),
        pct(0.999),
    );
    Ok(())
}
