//! The embedded migrations. Each one runs once, in order, inside the
//! start-up transaction that holds the schema's advisory lock (see
//! [`super::PgStore::connect`]); PostgreSQL DDL is transactional, so a
//! migration is applied completely or not at all. Never edit a released
//! migration: append a new one.

/// `(version, SQL)`, ascending.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[(1, V1), (2, V2), (3, V3)];

/// Version 1: every table of the store.
///
/// Times are Unix seconds (`bigint`); secrets are stored only as SHA-256
/// hashes (`bytea`), as in every other store. Records the server reads whole
/// are JSON (`bytea`, the same serde encoding as the redb store); the columns
/// the atomic rules and the purge look at are real columns.
const V1: &str = r#"
CREATE TABLE clients (
    client_id   text PRIMARY KEY,
    record      bytea NOT NULL,
    issued_at   bigint NOT NULL
);

CREATE TABLE pending (
    id          text PRIMARY KEY,
    record      bytea NOT NULL,
    expires_at  bigint NOT NULL
);
CREATE INDEX pending_expires_at ON pending (expires_at);

CREATE TABLE codes (
    code_hash          bytea PRIMARY KEY,
    record             bytea NOT NULL,
    grant_id           text NOT NULL,
    expires_at         bigint NOT NULL,
    redeemed           boolean NOT NULL DEFAULT false,
    access_jti         text,
    access_expires_at  bigint
);
CREATE INDEX codes_expires_at ON codes (expires_at);

CREATE TABLE refresh_families (
    family_id           text PRIMARY KEY,
    client_id           text NOT NULL,
    subject             text NOT NULL,
    resource            text NOT NULL,
    granted_scopes      text[] NOT NULL,
    scopes              text[] NOT NULL,
    current_hash        bytea NOT NULL,
    current_issued_at   bigint NOT NULL,
    current_expires_at  bigint NOT NULL,
    family_expires_at   bigint NOT NULL,
    revoked             boolean NOT NULL DEFAULT false
);
CREATE INDEX refresh_families_family_expires_at ON refresh_families (family_expires_at);
CREATE INDEX refresh_families_current_expires_at ON refresh_families (current_expires_at);

CREATE TABLE revoked_jti (
    jti         text PRIMARY KEY,
    expires_at  bigint NOT NULL
);
CREATE INDEX revoked_jti_expires_at ON revoked_jti (expires_at);

CREATE TABLE users (
    username    text PRIMARY KEY,
    record      bytea NOT NULL
);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    record      bytea NOT NULL
);
"#;

/// Version 2: revoked access-token families (every access token minted by a
/// revoked refresh family is refused until `expires_at`).
const V2: &str = r#"
CREATE TABLE revoked_access_families (
    family      text PRIMARY KEY,
    expires_at  bigint NOT NULL
);
CREATE INDEX revoked_access_families_expires_at ON revoked_access_families (expires_at);
"#;

/// Version 3: clients no user has authorized yet (`unused`), so abandoned
/// and flooded registrations can be pruned. Existing rows count as used:
/// they may have live grants.
const V3: &str = r#"
ALTER TABLE clients ADD COLUMN unused boolean NOT NULL DEFAULT false;
CREATE INDEX clients_unused_issued_at ON clients (issued_at) WHERE unused;
"#;
