//! What the soak watches every sampling period — the gateway's resident memory and open
//! descriptors (from /proc), what its store holds (its metrics) and the load's p99 — and
//! the verdict over the whole run.

use std::fmt::Write as _;

/// One sampling period.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at_secs: u64,
    pub rss_kib: u64,
    pub fds: usize,
    pub links: u64,
    pub codes: u64,
    /// Links made within the last link lifetime: what the store must at least hold.
    pub live: u64,
    /// Links made within the last lifetime plus a collection period: at most this.
    pub collectable: u64,
    pub requests: usize,
    pub p99_us: u32,
}

/// The gateway's resident set, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The gateway's open file descriptors.
pub fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// A gauge's value in a Prometheus exposition.
pub fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// The 99th percentile of `latencies` (sorted in place).
pub fn p99(latencies: &mut [u32]) -> u32 {
    if latencies.is_empty() {
        return 0;
    }
    latencies.sort_unstable();
    latencies[(latencies.len() * 99).div_ceil(100) - 1]
}

/// The bounds a run must keep after its warm-up.
pub struct Bounds {
    /// Samples before this many seconds are the warm-up.
    pub warm_up_secs: u64,
    /// Resident memory may rise at most this fraction above its level at the end of the
    /// warm-up, plus `rss_slack_kib`.
    pub rss_growth: f64,
    pub rss_slack_kib: u64,
    /// Open descriptors may rise at most this far above their level at the end of warm-up.
    pub fd_slack: usize,
    /// p99 at the end may be at most this fraction above p99 at the start.
    pub p99_growth: f64,
    /// How many samples make "the start" and "the end" for p99.
    pub p99_samples: usize,
}

/// The run as a Markdown table and what it failed, if anything.
pub fn verdict(
    samples: &[Sample],
    bounds: &Bounds,
    wrong: (u64, &[String]),
) -> (String, Vec<String>) {
    let mut table = String::from(
        "| s | RSS MiB | fds | links (live..collectable) | codes | requests | p99 ms |\n|---|---|---|---|---|---|---|\n",
    );
    for s in samples {
        let _ = writeln!(
            table,
            "| {} | {:.1} | {} | {} ({}..{}) | {} | {} | {:.2} |",
            s.at_secs,
            s.rss_kib as f64 / 1024.0,
            s.fds,
            s.links,
            s.live,
            s.collectable,
            s.codes,
            s.requests,
            f64::from(s.p99_us) / 1000.0
        );
    }
    let mut failed = Vec::new();
    if wrong.0 > 0 {
        failed.push(format!(
            "{} answers had the wrong status, first: {}",
            wrong.0,
            wrong.1.join("; ")
        ));
    }
    let (warm, steady): (Vec<&Sample>, Vec<&Sample>) = samples
        .iter()
        .partition(|s| s.at_secs <= bounds.warm_up_secs);
    let (Some(base), false) = (warm.last(), steady.len() < 2 * bounds.p99_samples) else {
        failed.push("too few samples after the warm-up to judge".into());
        return (table, failed);
    };
    let rss_bound = (base.rss_kib as f64 * (1.0 + bounds.rss_growth)) as u64 + bounds.rss_slack_kib;
    if let Some(s) = steady.iter().find(|s| s.rss_kib > rss_bound) {
        failed.push(format!(
            "RSS grew to {} KiB at {} s, above {rss_bound} KiB",
            s.rss_kib, s.at_secs
        ));
    }
    if let Some(s) = steady.iter().find(|s| s.fds > base.fds + bounds.fd_slack) {
        failed.push(format!(
            "open descriptors grew to {} at {} s, from {}",
            s.fds, s.at_secs, base.fds
        ));
    }
    if let Some(s) = steady
        .iter()
        .find(|s| s.links < s.live || s.links > s.collectable)
    {
        failed.push(format!(
            "the store held {} links at {} s, outside {}..{}",
            s.links, s.at_secs, s.live, s.collectable
        ));
    }
    // A period the sampler hit late holds few requests; its p99 says nothing.
    let typical = steady.iter().map(|s| s.requests).max().unwrap_or(0) / 2;
    let full: Vec<&Sample> = steady
        .iter()
        .copied()
        .filter(|s| s.requests >= typical)
        .collect();
    if full.len() < 2 * bounds.p99_samples {
        failed.push("too few full sampling periods after the warm-up to judge p99".into());
        return (table, failed);
    }
    let p99_of = |samples: &[&Sample]| {
        let mut p: Vec<u32> = samples.iter().map(|s| s.p99_us).collect();
        p.sort_unstable();
        p[p.len() / 2]
    };
    let start = p99_of(&full[..bounds.p99_samples]);
    let end = p99_of(&full[full.len() - bounds.p99_samples..]);
    if f64::from(end) > f64::from(start) * (1.0 + bounds.p99_growth) {
        failed.push(format!(
            "p99 at the end ({end} µs) is more than {:.0} % above p99 at the start ({start} µs)",
            bounds.p99_growth * 100.0
        ));
    }
    let _ = writeln!(
        table,
        "\nafter the warm-up ({} s): RSS at most {rss_bound} KiB, descriptors at most {}, p99 start {start} µs → end {end} µs (median of {} samples each)",
        bounds.warm_up_secs,
        base.fds + bounds.fd_slack,
        bounds.p99_samples
    );
    (table, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_secs: u64, rss_kib: u64, p99_us: u32) -> Sample {
        Sample {
            at_secs,
            rss_kib,
            fds: 40,
            links: 100,
            codes: 0,
            live: 90,
            collectable: 150,
            requests: 1000,
            p99_us,
        }
    }

    const BOUNDS: Bounds = Bounds {
        warm_up_secs: 20,
        rss_growth: 0.1,
        rss_slack_kib: 0,
        fd_slack: 8,
        p99_growth: 0.2,
        p99_samples: 2,
    };

    #[test]
    fn a_flat_run_passes_and_growth_or_a_slower_end_fails() {
        let flat: Vec<Sample> = (1..=8).map(|i| sample(i * 10, 50_000, 2_000)).collect();
        assert!(verdict(&flat, &BOUNDS, (0, &[])).1.is_empty());
        let mut growing = flat.clone();
        growing[7].rss_kib = 56_000;
        assert!(verdict(&growing, &BOUNDS, (0, &[])).1[0].starts_with("RSS grew"));
        let mut slower = flat.clone();
        slower[6].p99_us = 3_000;
        slower[7].p99_us = 3_000;
        assert!(verdict(&slower, &BOUNDS, (0, &[])).1[0].starts_with("p99 at the end"));
        let mut leaking = flat;
        leaking[5].links = 151;
        assert!(verdict(&leaking, &BOUNDS, (0, &[])).1[0].starts_with("the store held"));
    }

    #[test]
    fn p99_is_the_value_below_which_99_in_100_fall() {
        let mut l: Vec<u32> = (1..=200).rev().collect();
        assert_eq!(p99(&mut l), 198);
        assert_eq!(p99(&mut [7]), 7);
        assert_eq!(p99(&mut []), 0);
    }
}
