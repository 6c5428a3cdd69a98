//! One table of store behaviour, run against every backend: memory, file, Kubernetes
//! against the test API server, and PostgreSQL against the test database server. A new
//! backend is added to `backends!` and must pass the same rows.

use std::sync::Arc;

use linkgate_database::DatabaseUrl;
use linkgate_domain::code::{CodeHash, CodeRecord, CodeState};
use linkgate_domain::ids::{DeviceId, UserId};
use linkgate_domain::link::{DeviceLink, LinkedUser};
use linkgate_domain::time::{ManualClock, Timestamp};
use linkgate_proxy::cluster::Cluster;
use linkgate_proxy::store::{
    Counts, FileStore, KubeStore, LinkKey, MemoryStore, PgStore, Store, StoreError, Versioned,
};

const NOW: Timestamp = Timestamp::from_unix_millis(10_000);

/// A store under test and what it leaves to others.
struct Backend {
    store: Arc<dyn Store>,
    /// Whether the store drops expired codes and links itself (in Kubernetes mode the
    /// operator collects them, once for every proxy).
    collects_expired: bool,
    _dir: Option<tempfile::TempDir>,
}

fn memory() -> Backend {
    Backend {
        store: Arc::new(MemoryStore::new()),
        collects_expired: true,
        _dir: None,
    }
}

fn file() -> Backend {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Backend {
        store: Arc::new(FileStore::open(dir.path()).expect("open the file store")),
        collects_expired: true,
        _dir: Some(dir),
    }
}

/// A namespace of its own on the test API server, watched by a real `KubeStore`.
fn kubernetes() -> Backend {
    let (namespace, config) = runtime().block_on(async {
        let client = linkgate_tests::kube::client().await;
        linkgate_tests::kube::install_crds(&client).await;
        let namespace = linkgate_tests::kube::create_namespace(&client, "store-rules").await;
        (namespace, linkgate_tests::kube::config().await)
    });
    let cluster = Cluster::connect_with(namespace, config).expect("connect");
    let clock = Arc::new(ManualClock::at(NOW.unix_millis()));
    let metrics = Arc::new(linkgate_proxy::metrics::Metrics::new());
    let store = KubeStore::start(Arc::new(cluster), "table".into(), clock, metrics).expect("watch");
    Backend {
        store: Arc::new(store),
        collects_expired: false,
        _dir: None,
    }
}

/// A database of its own on the test PostgreSQL server.
fn postgres() -> Backend {
    let url = runtime().block_on(linkgate_tests::postgres::fresh_database("store_rules"));
    Backend {
        store: Arc::new(
            PgStore::connect(&DatabaseUrl::new(url), 4, 1000, Default::default())
                .expect("connect to PostgreSQL"),
        ),
        collects_expired: true,
        _dir: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Every row against every backend, each test a fresh store.
macro_rules! backends {
    ($($backend:ident),*; $rows:tt) => {
        $(mod $backend {
            backends!(@rows $backend $rows);
        })*
    };
    (@rows $backend:ident [$($row:ident),*]) => {
        $(#[test]
        fn $row() {
            let backend = super::$backend();
            super::runtime().block_on(super::$row(&backend));
        })*
    };
}

backends!(memory, file, kubernetes, postgres; [
    a_live_code_cannot_be_issued_twice_but_an_expired_one_can,
    a_new_code_retires_the_device_s_previous_one,
    a_code_can_be_withdrawn_once,
    redeeming_consumes_the_code_and_writes_the_link_once,
    redeeming_for_another_device_conflicts,
    a_denied_code_cannot_be_redeemed,
    a_held_code_is_redeemed_and_no_longer_held,
    link_writes_are_compare_and_swap,
    a_revoked_link_is_gone_and_the_device_can_link_again,
    purge_drops_only_what_expired,
    a_device_code_s_code_is_kept_after_use_until_it_expires,
    only_a_used_code_is_exchanged_and_the_exchange_spends_it
]);

// Reads every backend must answer here (none of them is down).
async fn stored_code(store: &dyn Store, hash: &CodeHash) -> Option<CodeRecord> {
    store.code(hash).await.expect("a read")
}

async fn stored_link(store: &dyn Store, key: &LinkKey) -> Option<Versioned> {
    store.link(key).await.expect("a read")
}

async fn polled_code(store: &dyn Store, device_code: &CodeHash) -> Option<CodeRecord> {
    store
        .code_by_device_code(device_code)
        .await
        .expect("a read")
}

async fn held(store: &dyn Store) -> Counts {
    store.counts().await.expect("a count")
}

fn hash(byte: u8) -> CodeHash {
    CodeHash::from_bytes([byte; 32])
}

fn device(id: &str) -> DeviceId {
    DeviceId::parse(id).expect("a device ID")
}

fn key(id: &str) -> LinkKey {
    LinkKey::new("demo", &device(id))
}

fn code(byte: u8, id: &str, expires: i64) -> CodeRecord {
    CodeRecord {
        hash: hash(byte),
        id: format!("id-{byte}"),
        requestor: "demo".into(),
        device: device(id),
        issued_at: Timestamp::from_unix_millis(0),
        expires_at: Timestamp::from_unix_millis(expires),
        mvpd: None,
        device_type: None,
        requested_from: None,
        session: None,
        device_code: None,
        state: CodeState::Pending,
        awaiting: None,
    }
}

fn polled(byte: u8, id: &str, expires: i64) -> CodeRecord {
    CodeRecord {
        device_code: Some(hash(byte ^ 0xff)),
        ..code(byte, id, expires)
    }
}

/// Issues code 1 to "tv" for a device code to poll; returns the device code's hash.
async fn issue_polled(store: &dyn Store) -> CodeHash {
    store
        .issue_code(polled(1, "tv", 20_000), NOW)
        .await
        .unwrap();
    hash(1 ^ 0xff)
}

fn link(id: &str, expires: i64) -> DeviceLink {
    DeviceLink {
        credential: None,
        requestor: "demo".into(),
        device: device(id),
        users: vec![LinkedUser {
            user: UserId::parse("alice").expect("a user ID"),
            mvpd: None,
            linked_at: Timestamp::from_unix_millis(0),
            authn_expires_at: Timestamp::from_unix_millis(expires),
            metadata: Default::default(),
        }],
    }
}

fn conflict<T: std::fmt::Debug>(outcome: Result<T, StoreError>) -> bool {
    matches!(outcome, Err(StoreError::Conflict))
}

async fn a_live_code_cannot_be_issued_twice_but_an_expired_one_can(b: &Backend) {
    let store = &b.store;
    store
        .issue_code(code(1, "tv-a", 20_000), NOW)
        .await
        .unwrap();
    let taken = store.issue_code(code(1, "tv-b", 20_000), NOW).await;
    assert!(matches!(taken, Err(StoreError::CodeTaken)), "{taken:?}");
    assert_eq!(
        stored_code(store.as_ref(), &hash(1)).await.unwrap().device,
        device("tv-a")
    );

    let later = Timestamp::from_unix_millis(20_000);
    let again = CodeRecord {
        issued_at: later,
        ..code(1, "tv-b", 30_000)
    };
    store.issue_code(again, later).await.unwrap();
    assert_eq!(
        stored_code(store.as_ref(), &hash(1)).await.unwrap().device,
        device("tv-b")
    );
}

async fn a_new_code_retires_the_device_s_previous_one(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    store.issue_code(code(2, "tv", 20_000), NOW).await.unwrap();
    assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
    assert!(stored_code(store.as_ref(), &hash(2)).await.is_some());
    assert_eq!(held(store.as_ref()).await.codes, 1);
}

async fn a_code_can_be_withdrawn_once(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    assert!(store.delete_code(&hash(1)).await.unwrap());
    assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
    assert!(!store.delete_code(&hash(1)).await.unwrap());
    let moved = store
        .set_code_state(&hash(1), CodeState::Denied, None)
        .await;
    assert!(!moved.unwrap(), "no code, nothing to move");
    assert_eq!(held(store.as_ref()).await, Counts::default());
}

async fn redeeming_consumes_the_code_and_writes_the_link_once(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    let version = store
        .redeem_code(&hash(1), None, link("tv", 99_000))
        .await
        .unwrap();
    assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
    let stored = stored_link(store.as_ref(), &key("tv")).await.unwrap();
    assert_eq!(stored.version, version);
    assert_eq!(*stored.link, link("tv", 99_000));
    // The code is gone: a second redemption conflicts, whatever version it names.
    assert!(conflict(
        store
            .redeem_code(&hash(1), Some(version), link("tv", 99_000))
            .await
    ));
}

async fn redeeming_for_another_device_conflicts(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    let other = store
        .redeem_code(&hash(1), None, link("other", 99_000))
        .await;
    assert!(conflict(other));
    assert!(stored_link(store.as_ref(), &key("other")).await.is_none());
    assert_eq!(
        stored_code(store.as_ref(), &hash(1)).await.unwrap().state,
        CodeState::Pending
    );
}

async fn a_denied_code_cannot_be_redeemed(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    let moved = store
        .set_code_state(&hash(1), CodeState::Denied, None)
        .await;
    assert!(moved.unwrap());
    let redeemed = store.redeem_code(&hash(1), None, link("tv", 99_000)).await;
    assert!(conflict(redeemed));
    assert!(stored_link(store.as_ref(), &key("tv")).await.is_none());
}

async fn a_held_code_is_redeemed_and_no_longer_held(b: &Backend) {
    use linkgate_domain::code::AwaitingUser;
    let store = &b.store;
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    let awaiting = AwaitingUser {
        user: UserId::parse("alice").unwrap(),
        mvpd: None,
        metadata: [("zip".to_owned(), "10001".to_owned())].into(),
    };
    let held = store
        .set_code_state(&hash(1), CodeState::Approving, Some(awaiting.clone()))
        .await;
    assert!(held.unwrap());
    let stored = stored_code(store.as_ref(), &hash(1)).await.unwrap();
    assert_eq!(stored.state, CodeState::Approving);
    assert_eq!(stored.awaiting.as_deref(), Some(&awaiting));
    store
        .redeem_code(&hash(1), None, link("tv", 99_000))
        .await
        .unwrap();
    assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
}

async fn link_writes_are_compare_and_swap(b: &Backend) {
    let store = &b.store;
    let first = store.put_link(None, link("tv", 99_000)).await.unwrap();
    assert!(conflict(store.put_link(None, link("tv", 99_000)).await));
    let second = store
        .put_link(Some(first), link("tv", 98_000))
        .await
        .unwrap();
    assert_ne!(first, second);
    assert!(conflict(
        store.put_link(Some(first), link("tv", 97_000)).await
    ));
    let stored = stored_link(store.as_ref(), &key("tv")).await.unwrap();
    assert_eq!(
        (stored.version, &*stored.link),
        (second, &link("tv", 98_000))
    );
    assert!(conflict(store.delete_link(&key("tv"), first).await));
    store.delete_link(&key("tv"), second).await.unwrap();
    assert!(stored_link(store.as_ref(), &key("tv")).await.is_none());
}

async fn a_revoked_link_is_gone_and_the_device_can_link_again(b: &Backend) {
    let store = &b.store;
    let version = store.put_link(None, link("tv", 99_000)).await.unwrap();
    store.delete_link(&key("tv"), version).await.unwrap();
    assert!(conflict(store.delete_link(&key("tv"), version).await));
    assert_eq!(held(store.as_ref()).await.links, 0);
    store.issue_code(code(1, "tv", 20_000), NOW).await.unwrap();
    let again = store.redeem_code(&hash(1), None, link("tv", 99_000)).await;
    let again = again.unwrap();
    assert_eq!(
        stored_link(store.as_ref(), &key("tv"))
            .await
            .unwrap()
            .version,
        again
    );
}

async fn purge_drops_only_what_expired(b: &Backend) {
    let store = &b.store;
    store.issue_code(code(1, "a", 5_000), NOW).await.unwrap();
    store.issue_code(code(2, "b", 50_000), NOW).await.unwrap();
    store.put_link(None, link("a", 5_000)).await.unwrap();
    store.put_link(None, link("b", 50_000)).await.unwrap();
    let dropped = store.purge_expired(NOW).await.unwrap();
    let kept = held(store.as_ref()).await;
    if b.collects_expired {
        assert_eq!(dropped, 2);
        assert_eq!(kept, Counts { codes: 1, links: 1 });
        assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
        assert!(stored_link(store.as_ref(), &key("a")).await.is_none());
    } else {
        assert_eq!((dropped, kept), (0, Counts { codes: 2, links: 2 }));
    }
    assert!(stored_code(store.as_ref(), &hash(2)).await.is_some());
    assert!(stored_link(store.as_ref(), &key("b")).await.is_some());
}

async fn a_device_code_s_code_is_kept_after_use_until_it_expires(b: &Backend) {
    let store = &b.store;
    let device_code = issue_polled(store.as_ref()).await;
    store
        .redeem_code(&hash(1), None, link("tv", 99_000))
        .await
        .unwrap();
    let kept = polled_code(store.as_ref(), &device_code).await.unwrap();
    assert_eq!(kept.state, CodeState::Redeemed);
    assert!(!kept.is_live(NOW), "a used code cannot be entered again");
    let taken = store.issue_code(code(1, "other", 30_000), NOW).await;
    assert!(matches!(taken, Err(StoreError::CodeTaken)), "{taken:?}");
    if b.collects_expired {
        let expired = Timestamp::from_unix_millis(20_000);
        store.purge_expired(expired).await.unwrap();
        assert!(polled_code(store.as_ref(), &device_code).await.is_none());
    }
}

async fn only_a_used_code_is_exchanged_and_the_exchange_spends_it(b: &Backend) {
    let store = &b.store;
    let device_code = issue_polled(store.as_ref()).await;
    let pending = store
        .exchange_code(&hash(1), None, link("tv", 99_000))
        .await;
    assert!(
        conflict(pending),
        "a pending code has no link to exchange for"
    );
    let version = store
        .redeem_code(&hash(1), None, link("tv", 99_000))
        .await
        .unwrap();
    let stranger = store
        .exchange_code(&hash(1), Some(version), link("other", 99_000))
        .await;
    assert!(conflict(stranger));
    store
        .exchange_code(&hash(1), Some(version), link("tv", 99_000))
        .await
        .unwrap();
    assert!(stored_code(store.as_ref(), &hash(1)).await.is_none());
    assert!(polled_code(store.as_ref(), &device_code).await.is_none());
    let spent = store
        .exchange_code(&hash(1), None, link("tv", 99_000))
        .await;
    assert!(conflict(spent));
}
