//! Bounds on everything a peer can make us hold. Each constant names the
//! attack it bounds; hosts may lower them, never raise them past what their
//! memory allows.

/// Largest compact JWS accepted before any parsing (token-stuffing DoS).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
