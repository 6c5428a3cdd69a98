use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use linkgate_proxy::app::{self, Lifecycle};
use linkgate_proxy::config::{Config, StoreBackend};

/// linkgate's gateway. With no arguments: a standalone gateway on 127.0.0.1:8080 (admin on
/// 127.0.0.1:9090) with the demo requestor `demo`, storing in ./linkgate-data.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Configuration file (YAML); the built-in demo configuration when absent.
    #[arg(long, env = "LINKGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides the API listen address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Overrides the admin listen address.
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Overrides the data directory of the file store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Overrides the store backend.
    #[arg(long, value_parser = parse_backend)]
    store: Option<StoreBackend>,
    /// Seconds listeners keep serving after SIGTERM (for load balancers to drain).
    #[arg(long, default_value_t = 5)]
    grace_period_seconds: u64,
}

fn parse_backend(s: &str) -> Result<StoreBackend, String> {
    match s {
        "file" => Ok(StoreBackend::File),
        "memory" => Ok(StoreBackend::Memory),
        other => Err(format!("unknown store {other:?}: use file or memory")),
    }
}

fn main() -> ExitCode {
    ignore_file_size_signal();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(path) => Config::load(path),
        None => Ok(Config::demo()),
    };
    let mut config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("linkgate-proxy: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.config.is_none() {
        tracing::warn!("no --config given: serving the demo requestor with demo credentials");
    }
    config.listen = cli.listen.unwrap_or(config.listen);
    config.admin = cli.admin.unwrap_or(config.admin);
    config.data_dir = cli.data_dir.unwrap_or(config.data_dir);
    config.store = cli.store.unwrap_or(config.store);
    let lifecycle = Lifecycle {
        grace_period: Duration::from_secs(cli.grace_period_seconds),
    };
    match app::run(config, lifecycle) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linkgate-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A write past the file size limit then fails with an error the store reports (and the
/// request answers 503), instead of SIGXFSZ killing the gateway and every connection.
fn ignore_file_size_signal() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_IGN runs no handler code, so nothing async-signal-unsafe can
    // happen; no other thread exists yet.
    if let Err(e) = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) } {
        eprintln!("linkgate-proxy: cannot ignore SIGXFSZ: {e}");
    }
}
