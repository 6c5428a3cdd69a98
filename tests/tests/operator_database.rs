//! The operator keeps the postgres store's database: its leader brings an empty database's
//! schema up to date and collects expired links, leaving live ones; a standby leaves the
//! database alone; a host that never answers is passed over.

use linkgate_database::DatabaseUrl;
use linkgate_domain::time::{Clock, SystemClock, Timestamp};
use linkgate_proxy::store::PgStore;
use linkgate_tests::kube::eventually;
use linkgate_tests::operator::Operator;
use linkgate_tests::postgres::{demo_link, fresh_database};
use tokio_postgres::{Client, NoTls};

const COLLECTED: &str = "linkgate_operator_database_rows_collected_total";

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn devices(db: &Client) -> Vec<String> {
    db.query("SELECT device FROM links ORDER BY device", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn the_leader_migrates_the_database_and_collects_its_expired_links() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let namespace = linkgate_tests::kube::create_namespace(&client, "op-database").await;
    let url = fresh_database("operator").await;
    let args = ["--database-url", &url, "--database-collect-seconds", "1"];
    let leader = Operator::start_with(&namespace, "leader", &args).await;
    eventually("the leader leads", async || {
        leader.leads().await.then_some(())
    })
    .await;
    let standby = Operator::start_with(&namespace, "standby", &args).await;

    let db = connect(&url).await;
    eventually("the schema made by the operator", async || {
        let row = db.query_one("SELECT to_regclass('links') IS NOT NULL", &[]);
        row.await.unwrap().get::<_, bool>(0).then_some(())
    })
    .await;

    // As proxies would have written them: one link whose sign-in has ended, one live.
    let now = SystemClock.now();
    let links = vec![
        demo_link(
            "ended-tv",
            Timestamp::from_unix_millis(now.unix_millis() - 1000),
        ),
        demo_link(
            "live-tv",
            Timestamp::from_unix_millis(now.unix_millis() + 3_600_000),
        ),
    ];
    let store = DatabaseUrl::new(url.clone());
    tokio::task::spawn_blocking(move || {
        PgStore::connect(&store, 2, 10, Default::default())?.import(links)
    })
    .await
    .unwrap()
    .unwrap();

    eventually("the ended link collected", async || {
        (devices(&db).await == ["live-tv"]).then_some(())
    })
    .await;
    // The row goes before the operator counts it.
    eventually("the collection counted", async || {
        (leader.metric(COLLECTED).await >= Some(1.0)).then_some(())
    })
    .await;
    assert_eq!(
        standby.metric(COLLECTED).await,
        Some(0.0),
        "a standby collects nothing"
    );
    assert!(
        !standby
            .metrics()
            .await
            .contains("database_collections_total{"),
        "a standby does not even look"
    );
}

/// Given several hosts, the first of which accepts connections and never answers (a frozen
/// server; a lost region behind a proxy that still accepts), the leader passes over it to
/// the next, as the proxies do, and keeps the database there.
#[tokio::test]
async fn the_leader_passes_over_a_host_that_never_answers() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let namespace = linkgate_tests::kube::create_namespace(&client, "op-silent").await;
    // Never accepted: the kernel completes each handshake and takes the data, and nothing
    // ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = fresh_database("operator_silent").await;
    let multi = format!(
        "{}?target_session_attrs=read-write",
        url.replacen('@', &format!("@{},", silent.local_addr().unwrap()), 1)
    );
    let args = ["--database-url", &multi, "--database-collect-seconds", "1"];
    let leader = Operator::start_with(&namespace, "leader", &args).await;
    eventually("the leader leads", async || {
        leader.leads().await.then_some(())
    })
    .await;
    let db = connect(&url).await;
    eventually("the schema made by the operator", async || {
        let row = db.query_one("SELECT to_regclass('links') IS NOT NULL", &[]);
        row.await.unwrap().get::<_, bool>(0).then_some(())
    })
    .await;
}
