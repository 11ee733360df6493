//! The PostgreSQL store against a real PostgreSQL: the core's conformance
//! suite, the cross-instance atomic rules under concurrency (each "instance"
//! is a store with its own connection pool), revocation visibility, purge,
//! concurrent start-up migrations, and the error for an unreachable database.
//!
//! Skipped (with a printed reason) when no database is reachable, unless
//! `MCPAUTH_REQUIRE_POSTGRES=1`; see `postgres_support`.

mod postgres_support;

use std::sync::Arc;

use mcpauth::backend::HostStore;
use mcpauth::pg::{PgOptions, PgStore};
use mcpauth_core::store::{
    CodeRecord, CodeStore, CodeTake, IssuedAccessToken, PendingAuthorization, PendingStore,
    RefreshFamily, RefreshStore, RevocationStore, RotateOutcome, Rotation, StoreError, hash_secret,
};
use mcpauth_core::time::UnixTime;
use postgres_support::TestDb;

fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

fn code(secret: &str, expires_at: u64) -> CodeRecord {
    CodeRecord {
        code_hash: hash_secret(secret),
        grant_id: format!("grant-{secret}"),
        client_id: "c".into(),
        redirect_uri: "https://a.example/cb".into(),
        code_challenge: "x".into(),
        resource: "https://r.example/mcp".into(),
        scopes: vec!["mcp".into()],
        subject: "alice".into(),
        expires_at,
    }
}

fn family(id: &str, token: &str, now: u64) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        client_id: "c".into(),
        subject: "alice".into(),
        resource: "https://r.example/mcp".into(),
        granted_scopes: vec!["mcp".into()],
        scopes: vec!["mcp".into()],
        current_hash: hash_secret(token),
        current_issued_at: now,
        current_expires_at: now + 1000,
        family_expires_at: now + 5000,
        revoked: false,
    }
}

fn rotation(token: &str, now: u64) -> Rotation {
    Rotation {
        new_hash: hash_secret(token),
        scopes: vec!["mcp".into()],
        issued_at: now,
        expires_at: now + 1000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(db) = TestDb::create("conformance").await else {
        return;
    };
    let store = db.store().await;
    mcpauth_core::store::conformance::check_all(&store, UnixTime(1_800_000_000)).await;
    // Twice: a persistent store keeps the first run's rows.
    mcpauth_core::store::conformance::check_all(&store, UnixTime(1_800_100_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redemptions_one_success() {
    let Some(db) = TestDb::create("take_code").await else {
        return;
    };
    let a = db.store().await;
    let b = db.store().await;
    let t = now();
    a.insert_code(code("the-code", t.secs() + 60), t)
        .await
        .expect("insert");
    let hash = hash_secret("the-code");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { s.take_code(&hash, t).await }));
    }
    let (mut redeemed, mut replayed) = (0, 0);
    for task in tasks {
        match task.await.expect("join").expect("store") {
            CodeTake::Redeemed(r) => {
                assert_eq!(r.grant_id, "grant-the-code");
                redeemed += 1;
            }
            CodeTake::Replayed { grant_id, .. } => {
                assert_eq!(grant_id, "grant-the-code");
                replayed += 1;
            }
            CodeTake::Unknown => panic!("a live code must never read as unknown"),
        }
    }
    assert_eq!((redeemed, replayed), (1, 49));

    // The tombstone remembers the access token, at either instance.
    a.record_code_access_token(
        &hash,
        IssuedAccessToken {
            jti: "jti-1".into(),
            expires_at: t.secs() + 3600,
        },
    )
    .await
    .expect("record");
    match b.take_code(&hash, t).await.expect("store") {
        CodeTake::Replayed { access_token, .. } => {
            assert_eq!(access_token.expect("token").jti, "jti-1");
        }
        other => panic!("{other:?}"),
    }
    // Expired code: unknown.
    a.insert_code(code("old", t.secs() - 1), t)
        .await
        .expect("insert");
    assert_eq!(
        b.take_code(&hash_secret("old"), t).await.expect("store"),
        CodeTake::Unknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotation_one_success_then_family_revoked() {
    let Some(db) = TestDb::create("rotate").await else {
        return;
    };
    let a = db.store().await;
    let b = db.store().await;
    let t = now();
    a.insert_family(family("fam", "rt-0", t.secs()), t)
        .await
        .expect("insert");
    let presented = hash_secret("rt-0");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(
                "fam",
                &presented,
                rotation(&format!("rt-{i}-new"), t.secs()),
                t,
            )
            .await
        }));
    }
    let (mut rotated, mut reused, mut invalid) = (0, 0, 0);
    for task in tasks {
        match task.await.expect("join").expect("store") {
            RotateOutcome::Rotated(before) => {
                assert_eq!(before.current_hash, presented);
                rotated += 1;
            }
            RotateOutcome::Reused => reused += 1,
            RotateOutcome::Invalid => invalid += 1,
        }
    }
    // Documented behaviour: exactly one rotation wins; the next presentation
    // of the rotated-out token is reuse and revokes the family; every later
    // one finds the family revoked.
    assert_eq!((rotated, reused, invalid), (1, 1, 18));
    let fam = b.family("fam", t).await.expect("store").expect("family");
    assert!(fam.revoked);

    // Serial rotation keeps working on a fresh family, across instances.
    a.insert_family(family("fam2", "x0", t.secs()), t)
        .await
        .expect("insert");
    for i in 0..10 {
        let s = if i % 2 == 0 { &a } else { &b };
        let out = s
            .rotate_refresh(
                "fam2",
                &hash_secret(&format!("x{i}")),
                rotation(&format!("x{}", i + 1), t.secs()),
                t,
            )
            .await
            .expect("store");
        assert!(matches!(out, RotateOutcome::Rotated(_)), "{out:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_visible_to_other_instance_at_once() {
    let Some(db) = TestDb::create("revoke").await else {
        return;
    };
    let a = db.store().await;
    let b = db.store().await;
    let t = now();
    assert!(!b.is_jti_revoked("j1", t).await.expect("store"));
    a.revoke_jti("j1", t.secs() + 100, t).await.expect("revoke");
    assert!(b.is_jti_revoked("j1", t).await.expect("store"));
    // Re-revoking keeps the later expiry; an expired revocation no longer
    // counts.
    b.revoke_jti("j1", t.secs() + 50, t).await.expect("revoke");
    assert!(
        a.is_jti_revoked("j1", UnixTime(t.secs() + 99))
            .await
            .expect("store")
    );
    assert!(
        !a.is_jti_revoked("j1", UnixTime(t.secs() + 100))
            .await
            .expect("store")
    );
    // Family revocation too.
    a.insert_family(family("f", "r", t.secs()), t)
        .await
        .expect("insert");
    b.revoke_family("f").await.expect("revoke");
    assert_eq!(
        a.rotate_refresh("f", &hash_secret("r"), rotation("r2", t.secs()), t)
            .await
            .expect("store"),
        RotateOutcome::Invalid
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_purges_expired_rows_only() {
    let Some(db) = TestDb::create("sweep").await else {
        return;
    };
    let s = db.store().await;
    let t = now().secs();
    let at = UnixTime(t);
    for i in 0..1200u64 {
        s.revoke_jti(&format!("old-{i}"), t + 10, at)
            .await
            .expect("revoke");
    }
    s.revoke_jti("live", t + 10_000, at).await.expect("revoke");
    s.insert_pending(
        PendingAuthorization {
            id: "p-old".into(),
            csrf_hash: hash_secret("c"),
            client_id: "c".into(),
            redirect_uri: "https://a.example/cb".into(),
            state: None,
            scopes: vec![],
            resource: "https://r.example/mcp".into(),
            code_challenge: "x".into(),
            expires_at: t + 10,
            upstream: None,
        },
        at,
    )
    .await
    .expect("pending");
    s.insert_code(code("c-old", t + 10), at)
        .await
        .expect("code");
    s.insert_code(code("c-live", t + 10_000), at)
        .await
        .expect("code");
    s.insert_family(family("f-live", "r", t), at)
        .await
        .expect("family");
    // 900 s later: 1200 revocations, the pending request and the code (its
    // tombstone grace is 600 s) are gone; the rest stays.
    let removed = s.sweep(t + 900).await.expect("sweep");
    assert_eq!(removed, 1200 + 1 + 1);
    let later = UnixTime(t + 900);
    assert!(s.is_jti_revoked("live", later).await.expect("store"));
    assert!(s.family("f-live", later).await.expect("store").is_some());
    assert!(matches!(
        s.take_code(&hash_secret("c-live"), later)
            .await
            .expect("store"),
        CodeTake::Redeemed(_)
    ));
    assert_eq!(s.sweep(t + 900).await.expect("sweep"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_start_up_migrates_once() {
    let Some(db) = TestDb::create("migrate").await else {
        return;
    };
    // A second fresh schema that nobody has migrated yet.
    let schema = postgres_support::fresh_schema("migrate2");
    let url = Arc::new(postgres_support::with_schema(
        &postgres_support::base_url(),
        &schema,
    ));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            PgStore::connect(PgOptions::parse(&url).expect("url")).await
        }));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.expect("join").expect("every instance starts"));
    }
    let t = now();
    stores[0]
        .insert_code(code("m", t.secs() + 60), t)
        .await
        .expect("insert");
    assert!(matches!(
        stores[5]
            .take_code(&hash_secret("m"), t)
            .await
            .expect("take"),
        CodeTake::Redeemed(_)
    ));
    stores[0].drop_schema().await.expect("drop");
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_is_a_clear_error() {
    // Nothing listens on port 1.
    let options =
        PgOptions::parse("postgres://postgres@127.0.0.1:1/test?schema=x&op_timeout_ms=2000")
            .expect("url");
    let err = PgStore::connect(options).await.expect_err("must fail");
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1/test"), "{msg}");
    assert!(
        !msg.contains("postgres@"),
        "no credentials in messages: {msg}"
    );
    // Bad settings are refused before connecting.
    assert!(PgOptions::parse("postgres://h/db?schema=Bad-Name").is_err());
    assert!(PgOptions::parse("postgres://h/db?pool_max=0").is_err());
    let _ = StoreError::Unavailable;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_when_required() {
    let Some(db) = TestDb::create("tls").await else {
        return;
    };
    // The local test server's certificate (Debian's snakeoil, for
    // "localhost"), used as the trusted root.
    let root = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if !std::path::Path::new(root).exists() || !db.url.contains("@127.0.0.1:") {
        postgres_support::say(&format!(
            "SKIPPED tls_when_required: needs the local server and {root}"
        ));
        return;
    }
    let app = format!("mcpauth_tls_{}", std::process::id());
    let tls_url = format!(
        "{}&sslmode=require&sslrootcert={root}&application_name={app}",
        db.url.replace("@127.0.0.1:", "@localhost:")
    );
    let store = match PgStore::connect(PgOptions::parse(&tls_url).expect("url")).await {
        Ok(s) => s,
        Err(e) if e.to_string().contains("server does not support TLS") => {
            postgres_support::say("SKIPPED tls_when_required: the server has ssl = off");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let t = now();
    store
        .revoke_jti("tls-jti", t.secs() + 60, t)
        .await
        .expect("revoke");
    assert!(store.is_jti_revoked("tls-jti", t).await.expect("check"));
    // The server agrees the sessions are encrypted.
    if let Ok(out) = std::process::Command::new("psql")
        .arg(postgres_support::base_url())
        .args([
            "-Atc",
            &format!(
                "SELECT count(*), bool_and(s.ssl) FROM pg_stat_ssl s \
                 JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{app}'"
            ),
        ])
        .output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let (count, all_ssl) = text.trim().split_once('|').expect("row");
        assert!(count.parse::<u32>().expect("count") >= 1, "{text}");
        assert_eq!(all_ssl, "t", "every session uses TLS: {text}");
    }
    store.close();
    // The certificate is verified: a name it does not cover is refused.
    let wrong = tls_url.replace("@localhost:", "@127.0.0.1:");
    let err = PgStore::connect(PgOptions::parse(&wrong).expect("url"))
        .await
        .expect_err("name mismatch");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(PgOptions::parse("postgres://h/db?sslrootcert=/x").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_authorizations_are_bounded() {
    let Some(db) = TestDb::create("pending_bound").await else {
        return;
    };
    let options = PgOptions::parse(&format!("{}&pending_max=20", db.url)).expect("url");
    assert_eq!(options.pending_max, 20);
    let store = PgStore::connect(options).await.expect("connect");
    mcpauth_core::store::conformance::check_pending_bound(&store, 20, UnixTime(1_800_000_000))
        .await;
    store.close();
}
