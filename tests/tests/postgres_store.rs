//! The postgres store end to end: real gateways on a real PostgreSQL, sharing one database.
//! What a proxy acknowledged survives the proxy's kill -9 and the database's immediate stop;
//! a link revoked through one proxy is refused by the other within the bound; while the
//! database is down, cached links keep answering and everything else fails at once with
//! 503; writers racing on one link at one version, and two proxies racing to redeem one
//! code, succeed once; proxies starting together on
//! an empty database all come up; a schema newer than the build is refused; a proxy
//! collects expired links unless told the operator does; a large table is counted by its
//! statistics.

use std::time::{Duration, Instant};

use linkgate_database::DatabaseUrl;
use linkgate_domain::time::{Clock, SystemClock, Timestamp};
use linkgate_proxy::store::{PgStore, Store, StoreError};
use linkgate_tests::postgres::{
    control, demo_link, fresh_database, gateway, gateway_storing, start,
};
use linkgate_tests::{DEMO_KEY, Gateway};
use serde_json::{Value, json};

const AUTHN: &str = "/v1/requestors/demo/devices/tv/authn";
/// How soon every proxy answers by a link another changed (revoked, or written).
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);

/// Links device `device` to `user` through `gw`; returns the status of the link call.
async fn link(gw: &Gateway, code: &str, user: &str) -> u16 {
    let body = json!({"code": code, "userId": user, "mvpd": "test-mvpd"});
    gw.post_json("/v1/requestors/demo/links", body, Some(DEMO_KEY))
        .await
        .0
}

/// `POST /v1/requestors/demo/codes` for `device`, the answer whole (its headers too).
async fn ask_for_a_code(gw: &Gateway, device: &str) -> reqwest::Response {
    gw.http
        .post(gw.url("/v1/requestors/demo/codes"))
        .json(&json!({"deviceId": device}))
        .send()
        .await
        .unwrap()
}

/// Reads `path` through `gw` until the answer is as `expected`; what one proxy changes,
/// another answers by within `PROPAGATION_BOUND` (it may have the old answer cached until
/// then).
async fn eventually(gw: &Gateway, path: &str, expected: impl Fn(u16, &Value) -> bool) -> Value {
    let changed = Instant::now();
    loop {
        let (status, body) = gw.get(path, Some(DEMO_KEY)).await;
        if expected(status, &body) {
            return body;
        }
        assert!(
            changed.elapsed() < PROPAGATION_BOUND,
            "{path} still answers {status} after {PROPAGATION_BOUND:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn answers(expected: u16) -> impl Fn(u16, &Value) -> bool {
    move |status, _| status == expected
}

#[tokio::test]
async fn proxies_share_links_and_a_killed_proxy_loses_none() {
    let url = fresh_database("shared").await;
    let mut a = gateway(&url).await;
    let b = gateway(&url).await;

    let code = a.issue_code("demo", "tv").await;
    assert_eq!(
        link(&b, &code, "alice").await,
        201,
        "a code issued by A links at B"
    );
    eventually(&a, AUTHN, answers(200)).await;

    a.kill();
    a.restart().await;
    let (status, body) = a.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");

    // A has the link cached now; B revokes it, and A refuses it within the bound.
    let unlink = b.delete("/v1/requestors/demo/devices/tv/users", Some(DEMO_KEY));
    assert_eq!(unlink.await.0, 204);
    eventually(&a, AUTHN, answers(403)).await;
}

#[tokio::test]
async fn while_the_database_is_down_calls_fail_with_503_and_nothing_acknowledged_is_lost() {
    // A server of its own, to stop and start.
    let name = linkgate_tests::kube::namespace("down");
    let url = start(&name, Some(std::process::id()));
    let gw = gateway(&url).await;
    let code = gw.issue_code("demo", "tv").await;
    assert_eq!(link(&gw, &code, "alice").await, 201);
    assert_eq!(gw.get(AUTHN, Some(DEMO_KEY)).await.0, 200, "now cached");

    control("kill", &name);
    let (status, body) = gw.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "a cached link keeps answering: {body}");
    let response = ask_for_a_code(&gw, "tv-2").await;
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, body) = linkgate_tests::read(response).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        retry_after.as_ref().map(|v| v.as_bytes()),
        Some(&b"1"[..]),
        "when to retry"
    );
    assert_eq!(body["code"], "store_unavailable");
    assert!(
        !body.to_string().contains(&url),
        "the database URL stays out of answers"
    );
    let never_read = "/v1/requestors/demo/devices/never-read/authn";
    let (status, body) = gw.get(never_read, Some(DEMO_KEY)).await;
    assert_eq!(status, 503, "{body}");

    control("up", &name);
    let (status, body) = gw.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "the link acknowledged before the stop: {body}");
    let code = gw.issue_code("demo", "tv-2").await;
    assert_eq!(link(&gw, &code, "bob").await, 201, "writes work again");
    control("stop", &name);
}

/// Given several hosts, a proxy writes to the one that takes writes; when that one dies it
/// moves to the next (as after a failover), answering 503 with `Retry-After` meanwhile and
/// counting the change.
#[tokio::test]
async fn a_proxy_given_several_hosts_moves_to_the_next_when_its_server_dies() {
    let (first, second) = (
        linkgate_tests::kube::namespace("first"),
        linkgate_tests::kube::namespace("second"),
    );
    let first_url = start(&first, Some(std::process::id()));
    let second_url = start(&second, Some(std::process::id()));
    // The second stands for a replica, which would hold the schema already.
    let migrate = DatabaseUrl::new(second_url.clone());
    tokio::task::spawn_blocking(move || PgStore::connect(&migrate, 1, 1, Default::default()))
        .await
        .unwrap()
        .unwrap();
    let host = |url: &str| {
        url.rsplit_once('@')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let multi = format!(
        "postgres://linkgate@{},{}/postgres?target_session_attrs=read-write",
        host(&first_url),
        host(&second_url)
    );
    let gw = gateway(&multi).await;
    let code = gw.issue_code("demo", "tv").await;
    assert_eq!(link(&gw, &code, "alice").await, 201);
    linkgate_tests::wait_for_metric(&gw, "linkgate_database_reachable 1", PROPAGATION_BOUND).await;

    control("kill", &first);
    let deadline = Instant::now() + Duration::from_secs(20);
    let moved = loop {
        let response = ask_for_a_code(&gw, "tv-2").await;
        match response.status().as_u16() {
            201 => break linkgate_tests::read(response).await.1,
            503 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("a write during the switch answered {other}"),
        }
        assert!(
            Instant::now() < deadline,
            "writes never moved to the second host"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(moved["displayCode"].is_string(), "{moved}");
    let patience = Duration::from_secs(10);
    linkgate_tests::wait_for_metric(&gw, "linkgate_database_primary_changes_total 1", patience)
        .await;
    linkgate_tests::wait_for_metric(&gw, "linkgate_database_reachable 1", patience).await;
    control("stop", &second);
}

/// A host that accepts connections and never answers (a frozen server; a lost region
/// behind a proxy that still accepts) costs each new connection that host's connect
/// timeout, not the whole wait for a connection: the proxy starts on the next host, writes
/// there, and keeps to it.
#[tokio::test]
async fn a_host_that_accepts_and_never_answers_is_passed_over() {
    // Never accepted: the kernel completes each handshake and takes the data, and nothing
    // ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = fresh_database("silent").await;
    let multi = format!(
        "{}?target_session_attrs=read-write",
        url.replacen('@', &format!("@{},", silent.local_addr().unwrap()), 1)
    );
    let gw = gateway(&multi).await;
    for device in ["tv", "tv-2", "tv-3"] {
        let code = gw.issue_code("demo", device).await;
        assert_eq!(link(&gw, &code, "alice").await, 201, "{device}");
    }
    let (status, body) = gw.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "{body}");
}

/// A link a proxy wrote stays in its cache when the change feed shows the proxy its own
/// write (again on every look for the feed's overlap): a while after the link was made,
/// with the database gone, the proxy still answers by it, as by any link it holds.
#[tokio::test]
async fn a_link_a_proxy_wrote_stays_cached_when_it_reads_its_own_change() {
    let name = linkgate_tests::kube::namespace("own");
    let url = start(&name, Some(std::process::id()));
    let gw = gateway(&url).await;
    let code = gw.issue_code("demo", "tv").await;
    assert_eq!(link(&gw, &code, "alice").await, 201);
    assert_eq!(gw.get(AUTHN, Some(DEMO_KEY)).await.0, 200, "now cached");
    // Several looks at the feed (one each 0.5 s), each finding the proxy's own change.
    tokio::time::sleep(Duration::from_secs(2)).await;
    control("kill", &name);
    let (status, body) = gw.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "answered from the cache: {body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    control("stop", &name);
}

/// Runs `statements`, one by one, on the server of `url` as its superuser.
async fn run_sql(url: &str, statements: &[&str]) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    for statement in statements {
        client.batch_execute(statement).await.unwrap();
    }
    drop(client);
    let _ = connection.await;
}

/// Makes every commit on the server of `url` wait for a synchronous standby that is not
/// there (`true`), or stop waiting (`false`), which lets the waiting commits complete.
async fn want_a_missing_standby(url: &str, want: bool) {
    let setting = match want {
        true => "ALTER SYSTEM SET synchronous_standby_names = 'ghost'",
        false => "ALTER SYSTEM RESET synchronous_standby_names",
    };
    run_sql(url, &[setting, "SELECT pg_reload_conf()"]).await;
}

/// A write is acknowledged only once the database says it is stored, and a COMMIT whose
/// answer does not come is settled through the write's receipt before anything is answered:
/// held for a synchronous standby past the proxy's wait, the write is acknowledged when the
/// standby's place is filled within the settling time, and answered 503 with `Retry-After`
/// when it is not; never 201 while no standby holds it.
#[tokio::test]
async fn a_commit_held_for_a_standby_is_acknowledged_only_once_stored() {
    let name = linkgate_tests::kube::namespace("sync");
    let url = start(&name, Some(std::process::id()));
    let gw = gateway(&url).await;
    let (first, second) = (
        gw.issue_code("demo", "tv").await,
        gw.issue_code("demo", "tv-2").await,
    );

    want_a_missing_standby(&url, true).await;
    let linking = tokio::spawn({
        let (http, target) = (gw.http.clone(), gw.url("/v1/requestors/demo/links"));
        let body = json!({"code": first, "userId": "alice", "mvpd": "test-mvpd"});
        async move {
            let sent = http.post(target).bearer_auth(DEMO_KEY).json(&body).send();
            sent.await.unwrap().status().as_u16()
        }
    });
    // Past the proxy's wait for the COMMIT (5 s): the proxy is settling (for up to 5 s
    // more), and has answered nothing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(
        !linking.is_finished(),
        "a write was answered while no standby held it"
    );
    want_a_missing_standby(&url, false).await;
    assert_eq!(linking.await.unwrap(), 201, "stored, then acknowledged");
    let (status, body) = gw.get(AUTHN, Some(DEMO_KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["userId"], "alice");
    let settled = r#"linkgate_database_unanswered_commits_total{outcome="stored"} 1"#;
    linkgate_tests::wait_for_metric(&gw, settled, PROPAGATION_BOUND).await;

    // No standby within the settling time either: the write's fate is not known, and the
    // answer says to come back.
    want_a_missing_standby(&url, true).await;
    let body = json!({"code": second, "userId": "bob", "mvpd": "test-mvpd"});
    let response = gw
        .http
        .post(gw.url("/v1/requestors/demo/links"))
        .bearer_auth(DEMO_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let unsettled = r#"linkgate_database_unanswered_commits_total{outcome="unsettled"} 1"#;
    linkgate_tests::wait_for_metric(&gw, unsettled, PROPAGATION_BOUND).await;
    want_a_missing_standby(&url, false).await;
    control("stop", &name);
}

/// Writers racing on one link at the store: of those expecting no link, one creates it; of
/// those expecting the version it was created at, one replaces it; every other is refused.
#[tokio::test]
async fn writers_racing_on_one_link_at_one_version_one_wins() {
    let url = DatabaseUrl::new(fresh_database("cas").await);
    let store = std::sync::Arc::new(
        tokio::task::spawn_blocking(move || PgStore::connect(&url, 16, 10, Default::default()))
            .await
            .unwrap()
            .unwrap(),
    );
    let ends = Timestamp::from_unix_millis(SystemClock.now().unix_millis() + 3_600_000);
    let race = async |device: &str, expected: Option<u64>| {
        let writers: Vec<_> = (0..16)
            .map(|_| {
                let (store, link) = (std::sync::Arc::clone(&store), demo_link(device, ends));
                tokio::spawn(async move { store.put_link(expected, link).await })
            })
            .collect();
        let mut won = Vec::new();
        for writer in writers {
            match writer.await.unwrap() {
                Ok(version) => won.push(version),
                Err(e) => assert!(matches!(e, StoreError::Conflict), "{e}"),
            }
        }
        assert_eq!(won.len(), 1, "{device}: one writer wins, not {won:?}");
        won[0]
    };
    // Every connection open first, so that the writers overlap rather than queue.
    race("warm-up", None).await;
    for round in 0..10 {
        let device = format!("tv-{round}");
        let created = race(&device, None).await;
        let replaced = race(&device, Some(created)).await;
        assert!(replaced > created);
    }
}

#[tokio::test]
async fn two_proxies_racing_to_redeem_one_code_link_it_once() {
    let url = fresh_database("race").await;
    let (a, b) = (gateway(&url).await, gateway(&url).await);
    for round in 0..5 {
        let device = format!("tv-{round}");
        let code = a.issue_code("demo", &device).await;
        let (first, second) = tokio::join!(link(&a, &code, "alice"), link(&b, &code, "bob"));
        let mut statuses = [first, second];
        statuses.sort_unstable();
        assert_eq!(statuses[0], 201, "one wins: {statuses:?}");
        assert!(
            (400..500).contains(&statuses[1]),
            "the other is refused: {statuses:?}"
        );
        // Both proxies come to answer the one winner, alone.
        let path = format!("/v1/requestors/demo/devices/{device}/users");
        let winner = |_: u16, body: &Value| body["users"].as_array().map(Vec::len) == Some(1);
        let seen_by_a = eventually(&a, &path, winner).await;
        let seen_by_b = eventually(&b, &path, winner).await;
        assert_eq!(
            seen_by_a["users"][0]["userId"],
            seen_by_b["users"][0]["userId"]
        );
    }
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    let url = fresh_database("newer").await;
    let connect = {
        let url = DatabaseUrl::new(url.clone());
        move || PgStore::connect(&url, 2, 10, Default::default())
    };
    let first = tokio::task::spawn_blocking(connect.clone()).await.unwrap();
    drop(first.expect("an empty database is migrated"));
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
            &[],
        )
        .await
        .unwrap();
    let refused = tokio::task::spawn_blocking(connect).await.unwrap();
    let message = refused
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(message.contains("newer"), "{message}");
}

/// A rollout starts many proxies at once on a database nobody has migrated yet: each must
/// come up (one migrates, the others find the schema in place), none may fail its start.
#[tokio::test]
async fn proxies_starting_together_on_an_empty_database_all_come_up() {
    for round in 0..3 {
        let url = fresh_database(&format!("together{round}")).await;
        let starts: Vec<_> = (0..6)
            .map(|_| {
                let url = DatabaseUrl::new(url.clone());
                tokio::task::spawn_blocking(move || {
                    PgStore::connect(&url, 2, 10, Default::default())
                })
            })
            .collect();
        for start in starts {
            let store = start.await.unwrap();
            assert!(store.is_ok(), "round {round}: {:?}", store.err());
        }
    }
}

/// A proxy collects expired links as it starts (and every minute), unless the operator is
/// the one collecting (`collectExpired: false`, as the chart sets it).
#[tokio::test]
async fn a_proxy_collects_expired_links_unless_the_operator_does() {
    let url = fresh_database("collect").await;
    let ended = Timestamp::from_unix_millis(SystemClock.now().unix_millis() - 1000);
    let store = DatabaseUrl::new(url.clone());
    let import = move || {
        PgStore::connect(&store, 2, 10, Default::default())?.import([demo_link("old-tv", ended)])
    };
    tokio::task::spawn_blocking(import).await.unwrap().unwrap();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let links = async || -> i64 {
        let row = db.query_one("SELECT count(*) FROM links", &[]).await;
        row.unwrap().get(0)
    };

    let leaving = gateway_storing(&url, "backend: postgres, collectExpired: false").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(links().await, 1, "a proxy told not to collect leaves it");
    drop(leaving);

    let _collecting = gateway(&url).await;
    let started = Instant::now();
    while links().await != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never collected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A metrics scrape counts a large table by the planner's statistics, never row by row:
/// ten million links must not be read every scrape.
#[tokio::test]
async fn a_large_table_is_counted_by_its_statistics() {
    const LINKS: usize = 120_000;
    let url = fresh_database("counted").await;
    let store = DatabaseUrl::new(url.clone());
    let live = Timestamp::from_unix_millis(SystemClock.now().unix_millis() + 3_600_000);
    let store = tokio::task::spawn_blocking(move || {
        let store = PgStore::connect(&store, 2, 10, Default::default())?;
        store.import((0..LINKS).map(|i| demo_link(&format!("tv-{i}"), live)))?;
        anyhow::Ok(store)
    })
    .await
    .unwrap()
    .unwrap();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute("ANALYZE links").await.unwrap();
    // Gone since the statistics were taken: a count would see it, the estimate does not.
    db.execute("DELETE FROM links WHERE device LIKE 'tv-1%'", &[])
        .await
        .unwrap();
    let exact: i64 = db
        .query_one("SELECT count(*) FROM links", &[])
        .await
        .unwrap()
        .get(0);
    let counted = store.counts().await.unwrap().links;
    assert!(exact < 100_000, "{exact}");
    assert!(
        counted.abs_diff(LINKS) < LINKS / 100,
        "counted {counted}, stored {exact}, estimated at {LINKS}"
    );
}

#[tokio::test]
async fn requestors_from_the_cluster_with_links_in_the_database() {
    let client = linkgate_tests::kube::client().await;
    linkgate_tests::kube::install_crds(&client).await;
    let namespace = linkgate_tests::kube::create_namespace(&client, "pg-requestors").await;
    // No media tokens: this requestor is about links.
    linkgate_tests::kube::create_demo_requestor(
        linkgate_tests::kube::kubeconfig(),
        &namespace,
        json!({}),
    );
    let url = fresh_database("cluster").await;
    let config = format!(
        "store: {{backend: postgres}}\nkubernetes: {{namespace: {namespace}, requestors: true}}\n\
         codeKeySecretRef: {{name: codes, key: key}}\n\
         secrets:\n  codes: {{key: one-key-for-every-proxy-of-this-test}}\n  demo.backend: {{apiKey: {DEMO_KEY}}}\n"
    );
    let env = vec![
        ("LINKGATE_DATABASE_URL".to_owned(), url.clone().into()),
        (
            "KUBECONFIG".to_owned(),
            linkgate_tests::kube::kubeconfig().as_os_str().to_owned(),
        ),
    ];
    let gw = Gateway::with_config_env(&config, env).await;
    // The Requestor reaches the proxy through its watch.
    let issued = Instant::now();
    let code = loop {
        let (status, body) = gw
            .post_json("/v1/requestors/demo/codes", json!({"deviceId": "tv"}), None)
            .await;
        if status == 201 {
            break body["code"].as_str().expect("a code").to_owned();
        }
        assert!(
            issued.elapsed() < Duration::from_secs(30),
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(link(&gw, &code, "alice").await, 201);
    assert_eq!(gw.get(AUTHN, Some(DEMO_KEY)).await.0, 200);

    let in_cluster = kube::Api::<linkgate_crds::DeviceLink>::namespaced(client, &namespace)
        .list(&Default::default())
        .await
        .unwrap();
    assert!(in_cluster.items.is_empty(), "no DeviceLink objects");
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = db
        .query_one(
            "SELECT count(*) FROM links WHERE requestor = 'demo' AND device = 'tv'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1, "the link is a row of the database");
}
