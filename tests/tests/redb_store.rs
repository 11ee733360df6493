//! The embedded (redb) store against the core's conformance checks, and its
//! revocation sets (revoked `jti`s and revoked access-token families)
//! surviving a reopen: they are read from disk into the in-memory mirrors
//! the MCP hot path consults.

mod common;

use common::TempDir;
use mcpauth::backend::HostStore;
use mcpauth::db::Db;
use mcpauth_core::store::RevocationStore;
use mcpauth_core::time::UnixTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_and_durable_revocations() {
    let dir = TempDir::new("redb-store");
    let db = Db::open(&dir.0).expect("open");
    mcpauth_core::store::conformance::check_all(&db, UnixTime(1_800_000_000)).await;
    // Twice: a persistent store keeps the first run's rows.
    mcpauth_core::store::conformance::check_all(&db, UnixTime(1_800_100_000)).await;

    // Far in the future, so the reopen (which drops entries expired by the
    // wall clock) keeps them.
    let now = UnixTime(4_000_000_000);
    db.revoke_access_family("fam", now.secs() + 100, now)
        .await
        .expect("revoke family");
    db.revoke_jti("jti", now.secs() + 100, now)
        .await
        .expect("revoke jti");
    db.close();
    drop(db);
    let db = Db::open(&dir.0).expect("reopen");
    let revoked = |jti: &'static str, family: Option<&'static str>| {
        let db = db.clone();
        async move {
            db.is_access_token_revoked(jti, family, now)
                .await
                .expect("check")
        }
    };
    assert!(revoked("other", Some("fam")).await, "family kept on disk");
    assert!(revoked("jti", None).await, "jti kept on disk");
    assert!(!revoked("other", Some("other-fam")).await);
    assert!(!revoked("other", None).await);
    // Swept once expired, from disk and mirror alike.
    assert!(db.sweep(now.secs() + 100).await.expect("sweep") >= 2);
    assert!(!revoked("other", Some("fam")).await);
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_authorizations_are_bounded() {
    let dir = TempDir::new("redb-pending-bound");
    let db = Db::open(&dir.0).expect("open").with_pending_capacity(20);
    mcpauth_core::store::conformance::check_pending_bound(&db, 20, UnixTime(1_800_000_000)).await;
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_runs_in_short_batches() {
    use mcpauth::db::SWEEP_BATCH;
    use mcpauth_core::store::PendingStore;
    use mcpauth_core::store::conformance::pending_request;
    let dir = TempDir::new("redb-sweep-batches");
    let db = Db::open(&dir.0).expect("open");
    let now = UnixTime(1_800_000_000);
    let expired = 2 * SWEEP_BATCH + 1;
    let mut inserts = Vec::new();
    for n in 0..expired {
        let db = db.clone();
        inserts.push(tokio::spawn(async move {
            let p = pending_request(format!("p{n}"), now.secs() + 10);
            db.insert_pending(p, now).await
        }));
    }
    for i in inserts {
        i.await.expect("join").expect("insert");
    }
    let before = db.group_commit_stats().commits;
    assert_eq!(db.sweep(now.secs() + 10).await.expect("sweep"), expired);
    let commits = db.group_commit_stats().commits - before;
    assert!(
        commits >= 3,
        "{expired} rows swept in {commits} transaction(s), not batches of {SWEEP_BATCH}"
    );
    db.close();
}
