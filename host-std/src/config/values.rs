//! Values the configuration reads: durations, public URLs, and the error
//! that names the setting at fault.

use std::time::Duration;

use serde::Deserialize;

/// A duration in the file: seconds, or text such as `5m`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum DurationValue {
    Secs(u64),
    Text(String),
}

impl DurationValue {
    pub(crate) fn get(&self, key: &str) -> Result<Duration, ConfigError> {
        match self {
            DurationValue::Secs(s) => Ok(Duration::from_secs(*s)),
            DurationValue::Text(t) => {
                parse_duration(t).map_err(|e| ConfigError::new(key, format!("{t:?}: {e}")))
            }
        }
    }
}

/// A configuration problem: which setting, and what is wrong.
#[derive(Debug)]
pub struct ConfigError {
    /// The flag, variable or file key.
    pub setting: String,
    /// What is wrong.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.to_owned(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Parse `3600`, `90s`, `15m`, `1h`, `30d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| "expected seconds or a number with s, m, h or d (e.g. 3600, 1h, 30d)")?;
    let secs = n.checked_mul(mult).ok_or("duration too large")?;
    if secs == 0 {
        return Err("duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// `scheme://host[:port]` of an absolute URL (lowercase).
pub(super) fn origin_of(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    url[..end].to_ascii_lowercase()
}

pub(super) fn validate_public_url(u: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| ConfigError::new("--public-url", format!("{u:?} {why}"));
    let u = u.trim().trim_end_matches('/');
    let rest = if let Some(r) = u.strip_prefix("https://") {
        r
    } else if let Some(r) = u.strip_prefix("http://") {
        let host = r.split(['/', ':']).next().unwrap_or_default();
        if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
            return Err(bad(
                "must use https (ChatGPT and Claude require it); plain http is only for localhost",
            ));
        }
        r
    } else {
        return Err(bad("must start with https://"));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("has no host"));
    }
    if rest.contains(['?', '#', ' ']) {
        return Err(bad("must not contain a query, fragment or spaces"));
    }
    Ok(u.to_owned())
}
