//! The PostgreSQL server of the tests: the one `LINKGATE_TEST_DATABASE_URL` names (CI starts
//! one with `tests/postgres/postgres.sh`), or else a server the test process starts for
//! itself on first use and which stops once the process has exited. Each test gets a
//! database of its own on it.

use std::sync::OnceLock;

/// The URL of the test server's administrative database.
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("LINKGATE_TEST_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => start(&crate::kube::namespace("tests"), Some(std::process::id())),
    })
}

/// Starts server `name`; with an `owner`, it stops once that process has exited.
pub fn start(name: &str, owner: Option<u32>) -> String {
    let mut command = script();
    if let Some(pid) = owner {
        command.env("LINKGATE_POSTGRES_OWNER", pid.to_string());
    }
    let out = command
        .args(["start", name])
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run postgres.sh");
    assert!(out.status.success(), "postgres.sh start {name} failed");
    String::from_utf8(out.stdout).expect("a URL").trim().into()
}

/// Runs `postgres.sh ACTION NAME` (`kill`, `up`, `stop`) and checks it succeeded.
pub fn control(action: &str, name: &str) {
    let status = script()
        .args([action, name])
        .status()
        .expect("run postgres.sh");
    assert!(status.success(), "postgres.sh {action} {name} failed");
}

fn script() -> std::process::Command {
    std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/postgres/postgres.sh"))
}

/// A new empty database on the test server; returns its URL.
pub async fn fresh_database(prefix: &str) -> String {
    let name = crate::kube::namespace(prefix).replace('-', "_");
    let server = server_url();
    let (client, connection) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database server");
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a database");
    drop(client);
    let _ = connection.await;
    let (base, _) = server.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
}

/// A gateway serving the demo requestor from the database at `url`, which comes in through
/// the environment, as a Secret would bring it.
pub async fn gateway(url: &str) -> crate::Gateway {
    gateway_storing(url, "backend: postgres").await
}

/// The same, with `store` the store section's settings.
pub async fn gateway_storing(url: &str, store: &str) -> crate::Gateway {
    // One code key for every gateway of a database: a code issued by one links at another.
    let config = format!(
        "store: {{{store}}}\ncodeKeySecretRef: {{name: codes, key: key}}\n{}",
        crate::config_with("demo", "").replace(
            "secrets:\n",
            "secrets:\n  codes: {key: one-key-for-every-proxy-of-this-test}\n"
        )
    );
    let env = vec![("LINKGATE_DATABASE_URL".to_owned(), url.into())];
    crate::Gateway::with_config_env(&config, env).await
}

/// A link of the demo requestor's `device` to alice, whose sign-in ends at `ends`, as a
/// proxy would have written it (for `PgStore::import`).
pub fn demo_link(
    device: &str,
    ends: linkgate_domain::time::Timestamp,
) -> linkgate_domain::link::DeviceLink {
    use linkgate_domain::ids::{DeviceId, UserId};
    linkgate_domain::link::DeviceLink {
        credential: None,
        requestor: "demo".into(),
        device: DeviceId::parse(device).expect("a valid device ID"),
        users: vec![linkgate_domain::link::LinkedUser {
            user: UserId::parse("alice").expect("a valid user ID"),
            mvpd: Some("test-mvpd".into()),
            linked_at: linkgate_domain::time::Timestamp::from_unix_millis(1_700_000_000_000),
            authn_expires_at: ends,
            metadata: Default::default(),
        }],
    }
}
