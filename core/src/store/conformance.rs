//! Conformance checks for any [`Store`] implementation: the atomic rules and
//! expiry semantics the authorization server relies on. The memory store
//! runs them in core's tests; a host runs them against its own store (redb,
//! PostgreSQL) with the `testing` feature:
//!
//! ```ignore
//! mcpauth_core::store::conformance::check_all(&my_store, UnixTime(1_800_000_000)).await;
//! ```
//!
//! Every check uses keys derived from `now`, so a persistent store can run
//! them more than once (pass a different `now` each run). They panic on the
//! first violation: this is test support, never compiled into a server.
#![allow(clippy::panic, clippy::unwrap_used)]

use alloc::format;
use alloc::string::String;
use alloc::vec;

use super::{
    ClientAuthMethod, ClientRecord, CodeRecord, CodeTake, GrantOwner, IssuedAccessToken,
    PendingAuthorization, RefreshFamily, RotateOutcome, Rotation, Store, StoreError, hash_secret,
};
use crate::time::UnixTime;

fn tag(now: UnixTime, what: &str) -> String {
    format!("conf-{}-{what}", now.secs())
}

fn code(now: UnixTime, secret: &str) -> CodeRecord {
    CodeRecord {
        code_hash: hash_secret(&tag(now, secret)),
        grant_id: tag(now, &format!("grant-{secret}")),
        client_id: "c".into(),
        redirect_uri: "https://a.example/cb".into(),
        code_challenge: "x".into(),
        resource: "https://r.example/mcp".into(),
        scopes: vec!["mcp".into()],
        subject: "alice".into(),
        expires_at: now.secs() + 60,
    }
}

fn family(now: UnixTime, id: &str, token: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: tag(now, id),
        client_id: "c".into(),
        subject: "alice".into(),
        resource: "https://r.example/mcp".into(),
        granted_scopes: vec!["a".into(), "b".into()],
        scopes: vec!["a".into(), "b".into()],
        current_hash: hash_secret(token),
        current_issued_at: now.secs(),
        current_expires_at: now.secs() + 1000,
        family_expires_at: now.secs() + 5000,
        revoked: false,
    }
}

fn rotation(token: &str, at: u64) -> Rotation {
    Rotation {
        new_hash: hash_secret(token),
        scopes: vec!["a".into()],
        issued_at: at,
        expires_at: at + 1000,
    }
}

/// A pending authorization request `id` expiring at `expires_at`.
pub fn pending_request(id: String, expires_at: u64) -> PendingAuthorization {
    PendingAuthorization {
        id,
        csrf_hash: hash_secret("csrf"),
        client_id: "c".into(),
        redirect_uri: "https://a.example/cb".into(),
        state: None,
        scopes: vec!["mcp".into()],
        resource: "https://r.example/mcp".into(),
        code_challenge: "x".into(),
        expires_at,
        upstream: None,
    }
}

/// A public client registered at `issued_at`.
pub fn public_client(client_id: &str, issued_at: u64) -> ClientRecord {
    ClientRecord {
        client_id: client_id.into(),
        secret_hash: None,
        auth_method: ClientAuthMethod::None,
        redirect_uris: vec!["https://a.example/cb".into()],
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        scopes: vec!["mcp".into()],
        client_name: None,
        native: false,
        issued_at,
    }
}

/// Run every check.
pub async fn check_all<S: Store>(store: &S, now: UnixTime) {
    check_clients(store, now).await;
    check_pending(store, now).await;
    check_codes(store, now).await;
    check_rotation(store, now).await;
    check_revocations(store, now).await;
    check_access_family_revocations(store, now).await;
    check_revoke_families_of(store, now).await;
    check_unused_clients(store, now).await;
}

/// Clients never used: pruned by age and by count, oldest first; a client
/// marked used never. Starts by pruning every unused client (earlier checks
/// leave some), so run it on a test store only.
pub async fn check_unused_clients<S: Store>(store: &S, now: UnixTime) {
    store.prune_unused_clients(u64::MAX, 0).await.unwrap();
    let client = |name: &str, issued_at: u64| public_client(&tag(now, name), issued_at);
    let t = now.secs();
    let used = client("used", t - 100);
    store.insert_client(used.clone()).await.unwrap();
    store.mark_client_used(&used.client_id).await.unwrap();
    store.mark_client_used(&used.client_id).await.unwrap();
    store.mark_client_used(&tag(now, "nobody")).await.unwrap();
    let [a, b, c, d] = [("a", 50), ("b", 40), ("c", 30), ("d", 20)].map(|(n, age)| {
        let record = client(n, t - age);
        let id = record.client_id.clone();
        (record, id)
    });
    for (record, _) in [&a, &b, &c, &d] {
        store.insert_client(record.clone()).await.unwrap();
    }
    let present = |id: &String| {
        let id = id.clone();
        async move { store.client(&id).await.unwrap().is_some() }
    };
    // By age: only `a` registered before t - 45.
    assert_eq!(
        store
            .prune_unused_clients(t - 45, usize::MAX)
            .await
            .unwrap(),
        1
    );
    assert!(!present(&a.1).await && present(&b.1).await);
    // By count: the oldest unused goes.
    assert_eq!(store.prune_unused_clients(0, 2).await.unwrap(), 1);
    assert!(!present(&b.1).await && present(&c.1).await && present(&d.1).await);
    // A client once used is never pruned.
    store.mark_client_used(&c.1).await.unwrap();
    assert_eq!(store.prune_unused_clients(u64::MAX, 0).await.unwrap(), 1);
    assert!(present(&used.client_id).await && present(&c.1).await && !present(&d.1).await);
}

/// Clients: insert, read back, duplicate refused.
pub async fn check_clients<S: Store>(store: &S, now: UnixTime) {
    let client = ClientRecord {
        client_id: tag(now, "client"),
        secret_hash: Some(hash_secret("s")),
        auth_method: ClientAuthMethod::ClientSecretPost,
        redirect_uris: vec!["https://a.example/cb".into()],
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        scopes: vec!["mcp".into()],
        client_name: Some("n".into()),
        native: false,
        issued_at: now.secs(),
    };
    store.insert_client(client.clone()).await.unwrap();
    assert_eq!(
        store.client(&client.client_id).await.unwrap(),
        Some(client.clone())
    );
    assert_eq!(
        store.insert_client(client).await,
        Err(StoreError::Duplicate)
    );
    assert_eq!(store.client(&tag(now, "nobody")).await.unwrap(), None);
}

/// Pending requests: read without consuming, take exactly once, expire.
pub async fn check_pending<S: Store>(store: &S, now: UnixTime) {
    let mut p = pending_request(tag(now, "pending"), now.secs() + 10);
    p.state = Some("s".into());
    store.insert_pending(p.clone(), now).await.unwrap();
    assert_eq!(store.pending(&p.id, now).await.unwrap(), Some(p.clone()));
    assert_eq!(
        store.take_pending(&p.id, now).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(store.take_pending(&p.id, now).await.unwrap(), None);
    let mut q = p.clone();
    q.id = tag(now, "pending-expiring");
    store.insert_pending(q.clone(), now).await.unwrap();
    assert_eq!(store.pending(&q.id, now.plus(10)).await.unwrap(), None);
    assert_eq!(store.take_pending(&q.id, now.plus(10)).await.unwrap(), None);
    // A request waiting for an upstream sign-in keeps its upstream part.
    let mut u = pending_request(tag(now, "pending-upstream"), now.secs() + 10);
    u.upstream = Some(crate::store::UpstreamLogin {
        provider: "idp".into(),
        nonce: "n".repeat(43),
        code_verifier: "v".repeat(43),
    });
    store.insert_pending(u.clone(), now).await.unwrap();
    assert_eq!(store.take_pending(&u.id, now).await.unwrap(), Some(u));
}

/// A store holding at most `capacity` pending requests refuses one more
/// with [`StoreError::Full`] while they are live, and makes room once they
/// expire (unauthenticated `GET /authorize` flooding). Pending requests of
/// earlier checks count towards the bound, so this only asserts that the
/// refusal comes at the latest at `capacity` inserts.
pub async fn check_pending_bound<S: Store>(store: &S, capacity: usize, now: UnixTime) {
    let pending = |n: usize| pending_request(tag(now, &format!("bound-{n}")), now.secs() + 10);
    let mut refused = false;
    for n in 0..=capacity {
        match store.insert_pending(pending(n), now).await {
            Ok(()) => {}
            Err(StoreError::Full) => {
                refused = true;
                break;
            }
            Err(e) => panic!("insert {n}: {e}"),
        }
    }
    assert!(refused, "{} pending requests were accepted", capacity + 1);
    // Once they expired, a new one fits (the store sweeps on the way).
    let later = now.plus(3600);
    let mut fresh = pending(capacity + 1);
    fresh.expires_at = later.secs() + 10;
    store.insert_pending(fresh.clone(), later).await.unwrap();
    assert_eq!(store.pending(&fresh.id, later).await.unwrap(), Some(fresh));
}

/// Codes: redeemed once, then replayed with the grant and access token;
/// expired and unknown codes are unknown.
pub async fn check_codes<S: Store>(store: &S, now: UnixTime) {
    let c = code(now, "code");
    store.insert_code(c.clone(), now).await.unwrap();
    assert_eq!(
        store.take_code(&c.code_hash, now).await.unwrap(),
        CodeTake::Redeemed(c.clone())
    );
    match store.take_code(&c.code_hash, now).await.unwrap() {
        CodeTake::Replayed {
            grant_id,
            client_id,
            access_token: None,
        } => {
            assert_eq!(grant_id, c.grant_id);
            assert_eq!(client_id, c.client_id);
        }
        other => panic!("second take must be a replay, got {other:?}"),
    }
    let token = IssuedAccessToken {
        jti: tag(now, "jti"),
        expires_at: now.secs() + 300,
    };
    store
        .record_code_access_token(&c.code_hash, token.clone())
        .await
        .unwrap();
    match store.take_code(&c.code_hash, now.plus(59)).await.unwrap() {
        CodeTake::Replayed {
            grant_id,
            access_token,
            ..
        } => {
            assert_eq!(grant_id, c.grant_id);
            assert_eq!(access_token, Some(token));
        }
        other => panic!("replay must carry the access token, got {other:?}"),
    }
    let e = code(now, "expiring");
    store.insert_code(e.clone(), now).await.unwrap();
    assert_eq!(
        store.take_code(&e.code_hash, now.plus(60)).await.unwrap(),
        CodeTake::Unknown
    );
    assert_eq!(
        store
            .take_code(&hash_secret(&tag(now, "never")), now)
            .await
            .unwrap(),
        CodeTake::Unknown
    );
}

/// Refresh families: compare-and-swap rotation, reuse revokes, expiry.
pub async fn check_rotation<S: Store>(store: &S, now: UnixTime) {
    let t = now.secs();
    let f = family(now, "fam", "t1");
    store.insert_family(f.clone(), now).await.unwrap();
    match store
        .rotate_refresh(&f.family_id, &hash_secret("t1"), rotation("t2", t), now)
        .await
        .unwrap()
    {
        RotateOutcome::Rotated(before) => assert_eq!(*before, f),
        other => panic!("live token must rotate, got {other:?}"),
    }
    let after = store.family(&f.family_id, now).await.unwrap().unwrap();
    assert_eq!(after.current_hash, hash_secret("t2"));
    assert_eq!(after.scopes, vec![String::from("a")]);
    assert!(!after.revoked);
    assert_eq!(
        store
            .rotate_refresh(&f.family_id, &hash_secret("t1"), rotation("t3", t), now)
            .await
            .unwrap(),
        RotateOutcome::Reused
    );
    assert!(
        store
            .family(&f.family_id, now)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(
        store
            .rotate_refresh(&f.family_id, &hash_secret("t2"), rotation("t4", t), now)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    let g = family(now, "fam-expiring", "u1");
    store.insert_family(g.clone(), now).await.unwrap();
    assert_eq!(
        store
            .rotate_refresh(
                &g.family_id,
                &hash_secret("u1"),
                rotation("u2", t),
                now.plus(1000)
            )
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(
        store.family(&g.family_id, now.plus(5000)).await.unwrap(),
        None
    );

    let h = family(now, "fam-revoked", "v1");
    store.insert_family(h.clone(), now).await.unwrap();
    store.revoke_family(&h.family_id).await.unwrap();
    store
        .revoke_family(&tag(now, "no-such-family"))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh(&h.family_id, &hash_secret("v1"), rotation("v2", t), now)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh(
                &tag(now, "unknown"),
                &hash_secret("v1"),
                rotation("v2", t),
                now
            )
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
}

/// Revoked `jti`s: refused until their expiry, then forgotten.
pub async fn check_revocations<S: Store>(store: &S, now: UnixTime) {
    let jti = tag(now, "revoked");
    assert!(!store.is_jti_revoked(&jti, now).await.unwrap());
    store.revoke_jti(&jti, now.secs() + 50, now).await.unwrap();
    store.revoke_jti(&jti, now.secs() + 50, now).await.unwrap();
    assert!(store.is_jti_revoked(&jti, now.plus(49)).await.unwrap());
    assert!(!store.is_jti_revoked(&jti, now.plus(50)).await.unwrap());
}

/// Revoked access-token families: every `jti` of the family refused until
/// the entry expires, other families and family-less tokens untouched.
pub async fn check_access_family_revocations<S: Store>(store: &S, now: UnixTime) {
    let fam = tag(now, "afam");
    let other = tag(now, "afam-other");
    let jti = tag(now, "afam-jti");
    assert!(
        !store
            .is_access_token_revoked(&jti, Some(&fam), now)
            .await
            .unwrap()
    );
    store
        .revoke_access_family(&fam, now.secs() + 50, now)
        .await
        .unwrap();
    // Idempotent, and a shorter second revocation never shortens the first.
    store
        .revoke_access_family(&fam, now.secs() + 10, now)
        .await
        .unwrap();
    assert!(
        store
            .is_access_token_revoked(&jti, Some(&fam), now.plus(49))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_access_token_revoked(&jti, Some(&fam), now.plus(50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_access_token_revoked(&jti, Some(&other), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_access_token_revoked(&jti, None, now)
            .await
            .unwrap()
    );
    assert!(!store.is_jti_revoked(&jti, now).await.unwrap());
    // A revoked `jti` is refused whatever family it names.
    store.revoke_jti(&jti, now.secs() + 50, now).await.unwrap();
    assert!(
        store
            .is_access_token_revoked(&jti, None, now)
            .await
            .unwrap()
    );
    assert!(
        store
            .is_access_token_revoked(&jti, Some(&other), now)
            .await
            .unwrap()
    );
    // Already expired: nothing to remember, not an error.
    store
        .revoke_access_family(&other, now.secs(), now)
        .await
        .unwrap();
    assert!(
        !store
            .is_access_token_revoked(&tag(now, "afam-jti2"), Some(&other), now)
            .await
            .unwrap()
    );
}

/// Revoking by owner: every live family of the client (or subject) is
/// revoked and reported once; other owners' families are untouched.
pub async fn check_revoke_families_of<S: Store>(store: &S, now: UnixTime) {
    let client = tag(now, "owner-client");
    let subject = tag(now, "owner-subject");
    let mut mine = family(now, "owned-1", "o1");
    mine.client_id = client.clone();
    let mut mine_too = family(now, "owned-2", "o2");
    mine_too.client_id = client.clone();
    mine_too.subject = subject.clone();
    let other = family(now, "not-owned", "o3");
    for f in [&mine, &mine_too, &other] {
        store.insert_family(f.clone(), now).await.unwrap();
    }
    let mut revoked = store
        .revoke_families_of(GrantOwner::Client(&client), now)
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![mine.family_id.clone(), mine_too.family_id.clone()];
    expected.sort();
    assert_eq!(revoked, expected);
    for f in [&mine, &mine_too] {
        let after = store.family(&f.family_id, now).await.unwrap().unwrap();
        assert!(after.revoked, "owned family revoked");
    }
    assert!(
        !store
            .family(&other.family_id, now)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    // Already revoked: not reported again.
    assert!(
        store
            .revoke_families_of(GrantOwner::Subject(&subject), now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .revoke_families_of(GrantOwner::Client(&tag(now, "nobody")), now)
            .await
            .unwrap()
            .is_empty()
    );
}
