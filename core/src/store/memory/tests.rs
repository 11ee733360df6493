//! Unit tests of the bounded memory store: atomic rules, bounds, expiry.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use super::*;
use crate::store::hash_secret;

/// The memory store's futures are always ready; poll once.
fn now_ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future was pending"),
    }
}

const T0: UnixTime = UnixTime(1_700_000_000);

fn limits(n: usize) -> MemoryStoreLimits {
    MemoryStoreLimits {
        clients: n,
        pending: n,
        codes: n,
        families: n,
        revoked_jtis: n,
        revoked_families: n,
    }
}

fn code(secret: &str, expires_at: u64) -> CodeRecord {
    CodeRecord {
        code_hash: hash_secret(secret),
        grant_id: String::from("g-") + secret,
        client_id: "c".into(),
        redirect_uri: "https://a.example/cb".into(),
        code_challenge: "x".into(),
        resource: "https://r.example/mcp".into(),
        scopes: vec!["mcp".into()],
        subject: "alice".into(),
        expires_at,
    }
}

fn family(id: &str, token: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        client_id: "c".into(),
        subject: "alice".into(),
        resource: "https://r.example/mcp".into(),
        granted_scopes: vec!["a".into(), "b".into()],
        scopes: vec!["a".into(), "b".into()],
        current_hash: hash_secret(token),
        current_issued_at: T0.secs(),
        current_expires_at: T0.secs() + 1000,
        family_expires_at: T0.secs() + 5000,
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

fn client(id: &str) -> ClientRecord {
    crate::store::conformance::public_client(id, T0.secs())
}

#[test]
fn code_is_redeemed_once_then_replayed() {
    let s = MemoryStore::default();
    let c = code("abc", T0.secs() + 60);
    now_ready(s.insert_code(c.clone(), T0)).expect("insert");
    let h = hash_secret("abc");
    assert_eq!(now_ready(s.take_code(&h, T0)), Ok(CodeTake::Redeemed(c)));
    now_ready(s.record_code_access_token(
        &h,
        IssuedAccessToken {
            jti: "j".into(),
            expires_at: T0.secs() + 300,
        },
    ))
    .expect("record");
    match now_ready(s.take_code(&h, T0.plus(1))) {
        Ok(CodeTake::Replayed {
            grant_id,
            access_token,
            ..
        }) => {
            assert_eq!(grant_id, "g-abc");
            assert_eq!(access_token.map(|t| t.jti), Some("j".into()));
        }
        other => panic!("expected replay, got {other:?}"),
    }
    assert_eq!(
        now_ready(s.take_code(&hash_secret("nope"), T0)),
        Ok(CodeTake::Unknown)
    );
}

#[test]
fn expired_code_is_unknown() {
    let s = MemoryStore::default();
    now_ready(s.insert_code(code("abc", T0.secs() + 60), T0)).expect("insert");
    assert_eq!(
        now_ready(s.take_code(&hash_secret("abc"), T0.plus(60))),
        Ok(CodeTake::Unknown)
    );
}

#[test]
fn full_tables_fail_typed_and_evict_expired() {
    let s = MemoryStore::new(limits(2));
    now_ready(s.insert_code(code("a", T0.secs() + 10), T0)).expect("a");
    now_ready(s.insert_code(code("b", T0.secs() + 100), T0)).expect("b");
    assert_eq!(
        now_ready(s.insert_code(code("c", T0.secs() + 100), T0)),
        Err(StoreError::Full)
    );
    // After "a" expires there is room again.
    now_ready(s.insert_code(code("c", T0.secs() + 100), T0.plus(11))).expect("c");

    now_ready(s.insert_client(client("1"))).expect("1");
    assert_eq!(
        now_ready(s.insert_client(client("1"))),
        Err(StoreError::Duplicate)
    );
    now_ready(s.insert_client(client("2"))).expect("2");
    assert_eq!(
        now_ready(s.insert_client(client("3"))),
        Err(StoreError::Full)
    );

    now_ready(s.revoke_jti("j1", T0.secs() + 5, T0)).expect("j1");
    now_ready(s.revoke_jti("j2", T0.secs() + 50, T0)).expect("j2");
    assert_eq!(
        now_ready(s.revoke_jti("j3", T0.secs() + 50, T0)),
        Err(StoreError::Full)
    );
    now_ready(s.revoke_jti("j3", T0.secs() + 50, T0.plus(6))).expect("j3");
    assert_eq!(now_ready(s.is_jti_revoked("j3", T0.plus(6))), Ok(true));
    assert_eq!(now_ready(s.is_jti_revoked("j3", T0.plus(50))), Ok(false));
}

#[test]
fn rotation_is_compare_and_swap_and_reuse_revokes() {
    let s = MemoryStore::default();
    now_ready(s.insert_family(family("f", "t1"), T0)).expect("insert");
    let out = now_ready(s.rotate_refresh("f", &hash_secret("t1"), rotation("t2", T0.secs()), T0));
    assert!(matches!(out, Ok(RotateOutcome::Rotated(_))));
    // The rotated-out token is dead and presenting it kills the family.
    let out = now_ready(s.rotate_refresh("f", &hash_secret("t1"), rotation("t3", T0.secs()), T0));
    assert_eq!(out, Ok(RotateOutcome::Reused));
    let out = now_ready(s.rotate_refresh("f", &hash_secret("t2"), rotation("t4", T0.secs()), T0));
    assert_eq!(out, Ok(RotateOutcome::Invalid));
    let f = now_ready(s.family("f", T0)).expect("ok").expect("present");
    assert!(f.revoked);
}

#[test]
fn rotation_refuses_expired_token_and_family() {
    let s = MemoryStore::default();
    now_ready(s.insert_family(family("f", "t1"), T0)).expect("insert");
    let out = now_ready(s.rotate_refresh(
        "f",
        &hash_secret("t1"),
        rotation("t2", T0.secs()),
        T0.plus(1000),
    ));
    assert_eq!(out, Ok(RotateOutcome::Invalid));
    assert_eq!(now_ready(s.family("f", T0.plus(5000))), Ok(None));
    now_ready(s.revoke_family("unknown")).expect("idempotent");
}

#[test]
fn pending_take_is_single_and_expires() {
    let s = MemoryStore::new(limits(1));
    let p = PendingAuthorization {
        id: "p".into(),
        csrf_hash: hash_secret("csrf"),
        client_id: "c".into(),
        redirect_uri: "https://a.example/cb".into(),
        state: None,
        scopes: Vec::new(),
        resource: "https://r.example/mcp".into(),
        code_challenge: "x".into(),
        expires_at: T0.secs() + 10,
        upstream: None,
    };
    now_ready(s.insert_pending(p.clone(), T0)).expect("insert");
    let mut q = p.clone();
    q.id = "q".into();
    assert_eq!(
        now_ready(s.insert_pending(q.clone(), T0)),
        Err(StoreError::Full)
    );
    assert_eq!(now_ready(s.pending("p", T0)), Ok(Some(p.clone())));
    assert_eq!(now_ready(s.take_pending("p", T0)), Ok(Some(p)));
    assert_eq!(now_ready(s.take_pending("p", T0)), Ok(None));
    now_ready(s.insert_pending(q, T0)).expect("room again");
    assert_eq!(now_ready(s.pending("q", T0.plus(10))), Ok(None));
    assert_eq!(s.counts()[1], 0);
}

#[test]
fn memory_store_passes_the_conformance_checks() {
    let s = MemoryStore::default();
    now_ready(crate::store::conformance::check_all(&s, T0));
    // Twice, as a persistent store would be run.
    now_ready(crate::store::conformance::check_all(&s, T0.plus(100_000)));
    let bounded = MemoryStore::new(limits(20));
    now_ready(crate::store::conformance::check_pending_bound(
        &bounded, 20, T0,
    ));
}

#[test]
fn sweep_drops_only_expired_entries() {
    let s = MemoryStore::default();
    now_ready(s.insert_code(code("a", T0.secs() + 60), T0)).expect("a");
    now_ready(s.insert_family(family("f", "t"), T0)).expect("f");
    now_ready(s.revoke_jti("j", T0.secs() + 10, T0)).expect("j");
    now_ready(s.insert_client(client("c"))).expect("c");
    assert_eq!(s.sweep(T0), 0);
    assert_eq!(s.sweep(T0.plus(60)), 2, "code and revocation");
    assert_eq!(s.sweep(T0.plus(1000)), 1, "family whose token expired");
    assert_eq!(s.counts(), [1, 0, 0, 0, 0, 0], "clients never expire");
}
