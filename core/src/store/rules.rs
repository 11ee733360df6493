//! The rules every store applies, written once: refresh rotation with reuse
//! detection, single-use codes with replay tombstones, and how long each
//! kind of record is worth keeping.
//!
//! These are pure functions of a record and `now`. A store supplies the
//! atomicity around them (the memory store's lock, redb's write transaction,
//! PostgreSQL's row lock): it reads the record, asks the rule what to do,
//! and writes back what the rule changed, all inside that one critical
//! section. So the memory, redb and PostgreSQL stores cannot drift apart in
//! what they decide, only in how they keep it atomic.

use alloc::boxed::Box;

use serde::{Deserialize, Serialize};

use super::{
    CodeRecord, CodeTake, GrantOwner, IssuedAccessToken, PendingAuthorization, RefreshFamily,
    RotateOutcome, Rotation, SecretHash, secret_matches,
};

/// How long a redeemed code's tombstone outlives the code's own expiry, so
/// that a replay shortly after expiry is still recognised as a replay (and
/// revokes the grant it started) instead of looking like an unknown code.
pub const TOMBSTONE_GRACE_SECS: u64 = 600;

/// What a store must do with a refresh family presented for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationDecision {
    /// The presented token is the live one: install the new token.
    Rotate,
    /// The family is live but the presented token is not its current one
    /// (rotated out, or forged): revoke the whole family (RFC 9700 §4.14.2).
    RevokeForReuse,
    /// Revoked, past its absolute expiry, or the current token expired:
    /// refuse without changing anything.
    Refuse,
}

/// Decide a rotation of `family` for the presented token hash at `now`.
///
/// Reuse is checked before the current token's own expiry: a rotated-out
/// token presented after the live one expired still revokes the family.
pub fn decide_rotation(
    family: &RefreshFamily,
    presented: &SecretHash,
    now: u64,
) -> RotationDecision {
    if family.revoked || family.family_expires_at <= now {
        return RotationDecision::Refuse;
    }
    if !secret_matches(&family.current_hash, presented) {
        return RotationDecision::RevokeForReuse;
    }
    if family.current_expires_at <= now {
        return RotationDecision::Refuse;
    }
    RotationDecision::Rotate
}

/// Apply [`decide_rotation`] to `family` in place and say what the caller
/// answers. Returns the outcome and whether `family` changed (the store
/// writes it back, inside the same transaction, exactly when it did).
pub fn rotate_family(
    family: &mut RefreshFamily,
    presented: &SecretHash,
    rotation: Rotation,
    now: u64,
) -> (RotateOutcome, bool) {
    match decide_rotation(family, presented, now) {
        RotationDecision::Refuse => (RotateOutcome::Invalid, false),
        RotationDecision::RevokeForReuse => {
            family.revoked = true;
            (RotateOutcome::Reused, true)
        }
        RotationDecision::Rotate => {
            let before = family.clone();
            family.current_hash = rotation.new_hash;
            family.scopes = rotation.scopes;
            family.current_issued_at = rotation.issued_at;
            // A rotation never extends the grant past its absolute end.
            family.current_expires_at = rotation.expires_at.min(family.family_expires_at);
            (RotateOutcome::Rotated(Box::new(before)), true)
        }
    }
}

/// Whether a family can still be read (revoked or not): before its absolute
/// expiry.
pub fn family_is_readable(family: &RefreshFamily, now: u64) -> bool {
    family.family_expires_at > now
}

/// Whether a family is worth keeping at `now`. Once its current token has
/// expired (or the family has) no token of it can ever be accepted again,
/// and a revoked family is kept only as long as its tokens could be
/// presented; after that it is as good as absent and may be swept.
pub fn family_is_retained(family: &RefreshFamily, now: u64) -> bool {
    family.family_expires_at > now && family.current_expires_at > now
}

/// Whether an operator's "revoke every grant of `owner`" takes `family`:
/// owned by them, not revoked yet, before its absolute expiry.
pub fn family_is_revocable_by(family: &RefreshFamily, owner: GrantOwner<'_>, now: u64) -> bool {
    !family.revoked && family_is_readable(family, now) && owner.owns(family)
}

/// Whether a pending authorization can still be used (and is worth keeping).
pub fn pending_is_live(pending: &PendingAuthorization, now: u64) -> bool {
    pending.expires_at > now
}

/// A stored authorization code and, once redeemed, its tombstone: the
/// record every store keeps per code (the redb store serialises it as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// The code as issued.
    pub record: CodeRecord,
    /// Set by the one successful redemption.
    pub redeemed: bool,
    /// The access token the redemption issued, once recorded (a replay
    /// revokes it).
    pub access_token: Option<IssuedAccessToken>,
}

impl CodeEntry {
    /// A fresh, unredeemed entry for `record`.
    pub fn new(record: CodeRecord) -> CodeEntry {
        CodeEntry {
            record,
            redeemed: false,
            access_token: None,
        }
    }

    /// Whether the entry is worth keeping at `now` (see
    /// [`code_is_retained`]).
    pub fn is_retained(&self, now: u64) -> bool {
        code_is_retained(self.record.expires_at, self.redeemed, now)
    }
}

/// What a store must do with a code presented for redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTakeDecision {
    /// First redemption of an unexpired code: mark it redeemed.
    Redeem,
    /// Already redeemed, tombstone still kept: report the replay.
    Replay,
    /// Expired (code or tombstone): as good as absent; the store may delete
    /// it now.
    Forget,
}

/// Decide a redemption of a code that expires at `expires_at` and was
/// (or was not) redeemed already, at `now`.
pub fn decide_code_take(expires_at: u64, redeemed: bool, now: u64) -> CodeTakeDecision {
    if redeemed {
        if code_is_retained(expires_at, true, now) {
            CodeTakeDecision::Replay
        } else {
            CodeTakeDecision::Forget
        }
    } else if expires_at > now {
        CodeTakeDecision::Redeem
    } else {
        CodeTakeDecision::Forget
    }
}

/// Apply [`decide_code_take`] to `entry` in place and say what the caller
/// answers, with the decision so the store knows what to write back:
/// `Redeem` changed the entry (store it), `Forget` means delete it.
pub fn take_code_entry(entry: &mut CodeEntry, now: u64) -> (CodeTake, CodeTakeDecision) {
    let decision = decide_code_take(entry.record.expires_at, entry.redeemed, now);
    let outcome = match decision {
        CodeTakeDecision::Redeem => {
            entry.redeemed = true;
            CodeTake::Redeemed(entry.record.clone())
        }
        CodeTakeDecision::Replay => CodeTake::Replayed {
            grant_id: entry.record.grant_id.clone(),
            client_id: entry.record.client_id.clone(),
            access_token: entry.access_token.clone(),
        },
        CodeTakeDecision::Forget => CodeTake::Unknown,
    };
    (outcome, decision)
}

/// Until when a code is kept: its own expiry, plus
/// [`TOMBSTONE_GRACE_SECS`] once redeemed.
pub fn code_retained_until(expires_at: u64, redeemed: bool) -> u64 {
    if redeemed {
        expires_at.saturating_add(TOMBSTONE_GRACE_SECS)
    } else {
        expires_at
    }
}

/// Whether a code (or its tombstone) is worth keeping at `now`.
pub fn code_is_retained(expires_at: u64, redeemed: bool, now: u64) -> bool {
    code_retained_until(expires_at, redeemed) > now
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hash_secret;
    use alloc::vec;

    fn family() -> RefreshFamily {
        RefreshFamily {
            family_id: "f".into(),
            client_id: "c".into(),
            subject: "alice".into(),
            resource: "https://r.example/mcp".into(),
            granted_scopes: vec!["a".into()],
            scopes: vec!["a".into()],
            current_hash: hash_secret("live"),
            current_issued_at: 100,
            current_expires_at: 200,
            family_expires_at: 300,
            revoked: false,
        }
    }

    #[test]
    fn rotation_decisions() {
        let f = family();
        let live = hash_secret("live");
        let old = hash_secret("old");
        assert_eq!(decide_rotation(&f, &live, 150), RotationDecision::Rotate);
        assert_eq!(
            decide_rotation(&f, &old, 150),
            RotationDecision::RevokeForReuse
        );
        // Reuse is detected even after the live token expired.
        assert_eq!(
            decide_rotation(&f, &old, 250),
            RotationDecision::RevokeForReuse
        );
        assert_eq!(decide_rotation(&f, &live, 200), RotationDecision::Refuse);
        assert_eq!(decide_rotation(&f, &old, 300), RotationDecision::Refuse);
        let mut revoked = f.clone();
        revoked.revoked = true;
        assert_eq!(
            decide_rotation(&revoked, &live, 150),
            RotationDecision::Refuse
        );
    }

    #[test]
    fn rotation_never_extends_the_family() {
        let mut f = family();
        let rotation = Rotation {
            new_hash: hash_secret("next"),
            scopes: vec![],
            issued_at: 150,
            expires_at: 10_000,
        };
        let (outcome, changed) = rotate_family(&mut f, &hash_secret("live"), rotation, 150);
        assert!(changed);
        assert!(
            matches!(outcome, RotateOutcome::Rotated(before) if before.current_issued_at == 100)
        );
        assert_eq!(f.current_expires_at, 300);
        assert_eq!(f.current_hash, hash_secret("next"));
    }

    #[test]
    fn code_decisions_and_grace() {
        assert_eq!(decide_code_take(100, false, 99), CodeTakeDecision::Redeem);
        assert_eq!(decide_code_take(100, false, 100), CodeTakeDecision::Forget);
        assert_eq!(decide_code_take(100, true, 100), CodeTakeDecision::Replay);
        assert_eq!(
            decide_code_take(100, true, 100 + TOMBSTONE_GRACE_SECS - 1),
            CodeTakeDecision::Replay
        );
        assert_eq!(
            decide_code_take(100, true, 100 + TOMBSTONE_GRACE_SECS),
            CodeTakeDecision::Forget
        );
        assert_eq!(code_retained_until(u64::MAX, true), u64::MAX);
    }
}
