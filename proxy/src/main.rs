use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use linkgate_domain::clients::Statement;
use linkgate_domain::media_token::{JwkSet, MediaKeys};
use linkgate_domain::time::{Clock, SystemClock};
use linkgate_logging::{self as logging, LogFormat};
use linkgate_proxy::app::{App, Lifecycle};
use linkgate_proxy::config::{Config, DatabaseUrl, StoreBackend};

/// linkgate's gateway. With no arguments: a standalone gateway on 127.0.0.1:8080 (admin on
/// 127.0.0.1:9090) with the demo requestor `demo`, storing in ./linkgate-data.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    serve: Serve,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checks a media token offline: format, signature, expiry, requestor and resource.
    /// Exits 0 and prints the claims when it is valid, 1 when it is not.
    VerifyToken(VerifyToken),
    /// Signs a software statement (RFC 7591) with which a requestor's backend registers a
    /// client; prints it.
    SoftwareStatement(SoftwareStatement),
    /// Prints the OpenAPI 3.1 description of every route, as `docs/openapi.json` holds it
    /// and the admin listener serves it (`/openapi.json`).
    Openapi,
}

#[derive(Args, Debug)]
struct SoftwareStatement {
    /// The Ed25519 private key (PKCS#8 PEM) whose public key the requestor's
    /// `backend.clients.softwareStatementKeys` names.
    #[arg(long)]
    key: PathBuf,
    /// The requestor the statement registers clients of.
    #[arg(long)]
    requestor: String,
    /// Names the backend software: letters, digits, '.', '_' or '-'.
    #[arg(long)]
    software_id: String,
    #[arg(long)]
    software_version: Option<String>,
    /// Seconds it registers clients for; forever when absent.
    #[arg(long)]
    ttl_seconds: Option<i64>,
}

#[derive(Args, Debug)]
struct VerifyToken {
    /// The requestor's published keys (GET /v1/requestors/{requestor}/media-keys).
    #[arg(long)]
    jwks: PathBuf,
    /// The requestor the token must be for.
    #[arg(long)]
    requestor: String,
    /// The resource the token must be for.
    #[arg(long)]
    resource: String,
    /// The serialized token.
    token: String,
}

#[derive(Args, Debug)]
struct Serve {
    /// Configuration file (YAML); the built-in demo configuration when absent.
    #[arg(long, env = "LINKGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides the API listen address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Overrides the admin listen address.
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Writes where the gateway listens (JSON: api, admin, testMvpd) to this file once the
    /// listeners are settled; a port given as 0 appears as the port chosen.
    #[arg(long)]
    addresses_file: Option<PathBuf>,
    /// Overrides the data directory of the file store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Overrides the store backend.
    #[arg(long, value_parser = parse_backend)]
    store: Option<StoreBackend>,
    /// The postgres store's database URL (it may carry a password: prefer the variable).
    #[arg(long, env = "LINKGATE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Kubernetes mode: Requestors and DeviceLinks in the cluster `KUBECONFIG` (or the
    /// pod's service account) names; the same as `--store kubernetes`.
    #[arg(long, conflicts_with = "store")]
    kubernetes: bool,
    /// Overrides the namespace served in Kubernetes mode.
    #[arg(long)]
    namespace: Option<String>,
    /// Log lines as text or as JSON objects.
    #[arg(long, env = "LINKGATE_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
    /// Seconds listeners keep serving after SIGTERM (for load balancers to drain).
    #[arg(long, default_value_t = 5)]
    grace_period_seconds: u64,
}

fn parse_backend(s: &str) -> Result<StoreBackend, String> {
    match s {
        "file" => Ok(StoreBackend::File),
        "memory" => Ok(StoreBackend::Memory),
        "kubernetes" => Ok(StoreBackend::Kubernetes),
        "postgres" => Ok(StoreBackend::Postgres),
        other => Err(format!(
            "unknown store {other:?}: use file, memory, kubernetes or postgres"
        )),
    }
}

/// The allocator the gateway was measured with (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::VerifyToken(args)) => verify_token(&args),
        Some(Command::SoftwareStatement(args)) => software_statement(&args),
        Some(Command::Openapi) => {
            print!("{}", linkgate_proxy::api::openapi_json());
            ExitCode::SUCCESS
        }
        None => serve(cli.serve),
    }
}

fn verify_token(args: &VerifyToken) -> ExitCode {
    let keys = std::fs::read(&args.jwks)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice::<JwkSet>(&bytes).map_err(|e| e.to_string()))
        .and_then(|set| MediaKeys::from_jwks(&set).map_err(|e| e.to_string()));
    let keys = match keys {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("linkgate-proxy: cannot use {}: {e}", args.jwks.display());
            return ExitCode::from(2);
        }
    };
    match keys.verify(
        &args.token,
        &args.requestor,
        &args.resource,
        SystemClock.now(),
    ) {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string(&claims).expect("claims serialise")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rejected: {e}");
            ExitCode::FAILURE
        }
    }
}

fn software_statement(args: &SoftwareStatement) -> ExitCode {
    let now = SystemClock.now().unix_secs();
    let statement = Statement {
        software_id: args.software_id.clone(),
        software_version: args.software_version.clone(),
        aud: args.requestor.clone(),
        exp: args.ttl_seconds.map(|ttl| now + ttl),
    };
    let signed = std::fs::read(&args.key)
        .map_err(|e| e.to_string())
        .and_then(|pem| statement.sign(&pem));
    match signed {
        Ok(jwt) => {
            println!("{jwt}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "linkgate-proxy: cannot sign with {}: {e}",
                args.key.display()
            );
            ExitCode::from(2)
        }
    }
}

fn serve(cli: Serve) -> ExitCode {
    ignore_file_size_signal();
    logging::init(cli.log_format);
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
    if let Some(url) = cli.database_url {
        config.database.url = Some(DatabaseUrl::new(url));
    }
    if cli.kubernetes {
        config.store = StoreBackend::Kubernetes;
    }
    config.namespace = cli.namespace.unwrap_or(config.namespace);
    let lifecycle = Lifecycle {
        grace_period: Duration::from_secs(cli.grace_period_seconds),
        config_file: cli.config.clone(),
    };
    let app = App::build(config, lifecycle).and_then(|app| {
        if let Some(path) = &cli.addresses_file {
            app.write_addresses(path)?;
        }
        Ok(app)
    });
    match app {
        Ok(app) => {
            app.run();
            ExitCode::SUCCESS
        }
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
