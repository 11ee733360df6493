//! Shared by the PostgreSQL tests: where the database is, a fresh schema per
//! test, and the skip rule.
//!
//! - `MCPAUTH_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//!   names the database; every test works in its own new schema and drops it
//!   at the end.
//! - When the database cannot be reached the tests print `SKIPPED …` with the
//!   reason on standard error and pass, unless `MCPAUTH_REQUIRE_POSTGRES=1`,
//!   which makes them fail instead (CI sets it).
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use mcpauth::backend::HostStore;
use mcpauth::pg::{PgOptions, PgStore};

/// The database the tests use.
pub fn base_url() -> String {
    std::env::var("MCPAUTH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether a missing database is a failure.
pub fn required() -> bool {
    std::env::var("MCPAUTH_REQUIRE_POSTGRES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `url` with `schema=…` added.
pub fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

/// A schema name no other run uses.
pub fn fresh_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("mcpauth_t_{tag}_{}_{nanos}", std::process::id())
}

/// Print straight to the terminal (the test harness captures `eprintln!`).
pub fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A fresh schema in the test database, dropped on drop.
#[derive(Debug)]
pub struct TestDb {
    /// Store URL including `schema=`.
    pub url: String,
    pub schema: String,
}

impl TestDb {
    /// A fresh schema (migrated), or `None` after printing why the test is
    /// skipped. Panics instead when `MCPAUTH_REQUIRE_POSTGRES=1`.
    pub async fn create(test: &str) -> Option<TestDb> {
        let schema = fresh_schema(test);
        let url = with_schema(&base_url(), &schema);
        let attempt = async {
            let options = PgOptions::parse(&url)?;
            let store = tokio::time::timeout(Duration::from_secs(15), PgStore::connect(options))
                .await
                .map_err(|_| "timed out connecting".to_owned())?
                .map_err(|e| e.to_string())?;
            store.close();
            Ok::<(), String>(())
        };
        match attempt.await {
            Ok(()) => Some(TestDb { url, schema }),
            Err(e) => {
                let msg = format!(
                    "no usable PostgreSQL for test `{test}` ({e}); set MCPAUTH_TEST_DATABASE_URL \
                     (default postgres://postgres@127.0.0.1:5432/test)"
                );
                if required() {
                    panic!("MCPAUTH_REQUIRE_POSTGRES is set: {msg}");
                }
                say(&format!("SKIPPED {test}: {msg}"));
                None
            }
        }
    }

    /// A new store (its own pool, like another instance) on this schema.
    pub async fn store(&self) -> PgStore {
        PgStore::connect(PgOptions::parse(&self.url).expect("url"))
            .await
            .expect("connect")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let url = self.url.clone();
        // On a thread of its own: drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(options) = PgOptions::parse(&url) else {
                    return;
                };
                if let Ok(Ok(store)) =
                    tokio::time::timeout(Duration::from_secs(10), PgStore::connect(options)).await
                {
                    let _ = store.drop_schema().await;
                    store.close();
                }
            });
        })
        .join();
    }
}
