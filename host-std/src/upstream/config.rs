//! `serve` settings of the auth proxy: flags, `MCPAUTH_UPSTREAM*`
//! variables and the `[upstream]` table of the configuration file.

use std::time::Duration;

use clap::Args;
use hyper::header::HeaderName;
use serde::Deserialize;

use super::{IdentityHeaders, Mount, UpstreamLimits, UpstreamSettings};
use crate::config::{ConfigError, DurationValue, parse_duration};

/// `mcpauth serve` options of the auth proxy.
#[derive(Debug, Clone, Default, Args)]
pub struct UpstreamArgs {
    /// Protect an existing MCP server: forward authenticated MCP traffic to
    /// it. `URL` mounts it at /mcp (instead of the built-in tools),
    /// `/PATH=URL` at /PATH; repeat (or comma-separate) for several.
    #[arg(
        long = "upstream",
        env = "MCPAUTH_UPSTREAM",
        value_name = "[/PATH=]URL",
        value_delimiter = ','
    )]
    pub upstream: Option<Vec<String>>,
    /// Time to connect to an upstream, e.g. 5s [default: 5s].
    #[arg(long, env = "MCPAUTH_UPSTREAM_CONNECT_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub upstream_connect_timeout: Option<Duration>,
    /// Time for an upstream to start its answer (502/504 after) [default: 60s].
    #[arg(long, env = "MCPAUTH_UPSTREAM_RESPONSE_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub upstream_response_timeout: Option<Duration>,
    /// Largest upstream response that is not an event stream [default: 8388608].
    #[arg(
        long,
        env = "MCPAUTH_UPSTREAM_MAX_RESPONSE_BYTES",
        value_name = "BYTES"
    )]
    pub upstream_max_response_bytes: Option<u64>,
    /// Header carrying the caller's subject to the upstream [default: X-MCPAuth-Subject].
    #[arg(long, env = "MCPAUTH_UPSTREAM_SUBJECT_HEADER", value_name = "NAME")]
    pub upstream_subject_header: Option<String>,
    /// Header carrying the OAuth client id to the upstream [default: X-MCPAuth-Client-Id].
    #[arg(long, env = "MCPAUTH_UPSTREAM_CLIENT_ID_HEADER", value_name = "NAME")]
    pub upstream_client_id_header: Option<String>,
    /// Header carrying the granted scopes (space-separated) to the upstream
    /// [default: X-MCPAuth-Scopes].
    #[arg(long, env = "MCPAUTH_UPSTREAM_SCOPES_HEADER", value_name = "NAME")]
    pub upstream_scopes_header: Option<String>,
}

/// The `[upstream]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    targets: Option<Vec<String>>,
    connect_timeout: Option<DurationValue>,
    response_timeout: Option<DurationValue>,
    max_response_bytes: Option<u64>,
    subject_header: Option<String>,
    client_id_header: Option<String>,
    scopes_header: Option<String>,
}

fn header_name(
    setting: &str,
    value: Option<&String>,
    default: HeaderName,
) -> Result<HeaderName, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let name = HeaderName::from_bytes(value.trim().as_bytes())
        .map_err(|_| ConfigError::new(setting, format!("{value:?} is not a header name")))?;
    // The proxy strips these itself; an identity written there would never
    // arrive (or would be the caller's credentials).
    if crate::upstream::headers::is_reserved(name.as_str()) {
        return Err(ConfigError::new(
            setting,
            format!("{value:?} is a header the proxy manages itself"),
        ));
    }
    Ok(name)
}

fn duration(
    setting: &str,
    flag: Option<Duration>,
    file: Option<&DurationValue>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match (flag, file) {
        (Some(d), _) => Ok(d),
        (None, Some(v)) => v.get(setting),
        (None, None) => Ok(default),
    }
}

/// Resolve the proxy settings (flags > environment > file > defaults).
pub fn resolve(
    args: &UpstreamArgs,
    file: Option<&UpstreamFile>,
) -> Result<UpstreamSettings, ConfigError> {
    let empty = UpstreamFile::default();
    let file = file.unwrap_or(&empty);
    let specs = args
        .upstream
        .clone()
        .or_else(|| file.targets.clone())
        .unwrap_or_default();
    let mut mounts: Vec<Mount> = Vec::with_capacity(specs.len());
    for spec in specs.iter().filter(|s| !s.trim().is_empty()) {
        let mount = Mount::parse(spec).map_err(|e| ConfigError::new("--upstream", e))?;
        if mounts.iter().any(|m| m.path == mount.path) {
            return Err(ConfigError::new(
                "--upstream",
                format!(
                    "two upstreams mounted at {}: give each its own path (/PATH=URL)",
                    mount.path
                ),
            ));
        }
        mounts.push(mount);
    }
    let defaults = UpstreamLimits::default();
    let limits = UpstreamLimits {
        connect_timeout: duration(
            "--upstream-connect-timeout",
            args.upstream_connect_timeout,
            file.connect_timeout.as_ref(),
            defaults.connect_timeout,
        )?,
        response_timeout: duration(
            "--upstream-response-timeout",
            args.upstream_response_timeout,
            file.response_timeout.as_ref(),
            defaults.response_timeout,
        )?,
        max_response_bytes: args
            .upstream_max_response_bytes
            .or(file.max_response_bytes)
            .unwrap_or(defaults.max_response_bytes),
        ..defaults
    };
    if limits.max_response_bytes < 1024 {
        return Err(ConfigError::new(
            "--upstream-max-response-bytes",
            "must be at least 1024",
        ));
    }
    let default_identity = IdentityHeaders::default();
    let identity = IdentityHeaders {
        subject: header_name(
            "--upstream-subject-header",
            args.upstream_subject_header
                .as_ref()
                .or(file.subject_header.as_ref()),
            default_identity.subject,
        )?,
        client_id: header_name(
            "--upstream-client-id-header",
            args.upstream_client_id_header
                .as_ref()
                .or(file.client_id_header.as_ref()),
            default_identity.client_id,
        )?,
        scopes: header_name(
            "--upstream-scopes-header",
            args.upstream_scopes_header
                .as_ref()
                .or(file.scopes_header.as_ref()),
            default_identity.scopes,
        )?,
    };
    if identity.subject == identity.client_id
        || identity.subject == identity.scopes
        || identity.client_id == identity.scopes
    {
        return Err(ConfigError::new(
            "--upstream-subject-header",
            "the subject, client id and scopes headers must differ",
        ));
    }
    Ok(UpstreamSettings {
        mounts,
        limits,
        identity,
        allowed_origins: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::tests::serve;

    #[test]
    fn upstream_flags() {
        let s = serve(&[]).expect("ok");
        assert!(s.upstream.mounts.is_empty(), "no proxy by default");
        let s = serve(&[
            "--upstream",
            "http://127.0.0.1:9000/mcp",
            "--upstream",
            "/files=http://127.0.0.1:9001/",
            "--upstream-response-timeout",
            "5s",
            "--upstream-subject-header",
            "X-User",
        ])
        .expect("ok");
        let paths: Vec<&str> = s.upstream.mounts.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/mcp", "/files"]);
        assert_eq!(s.upstream.limits.response_timeout.as_secs(), 5);
        assert_eq!(s.upstream.identity.subject.as_str(), "x-user");
        let e = serve(&[
            "--upstream",
            "http://127.0.0.1:9000/mcp",
            "--upstream",
            "http://127.0.0.1:9001/mcp",
        ])
        .expect_err("two at /mcp");
        assert!(e.problem.contains("/PATH=URL"), "{e}");
        let e = serve(&["--upstream-scopes-header", "Authorization"]).expect_err("reserved");
        assert_eq!(e.setting, "--upstream-scopes-header");
        let e = serve(&["--upstream", "https://example.com/mcp"]).expect_err("https");
        assert_eq!(e.setting, "--upstream");
    }

    #[test]
    fn upstream_table_in_the_file() {
        let dir = std::env::temp_dir().join(format!("mcpauth-up-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[upstream]\ntargets = [\"http://127.0.0.1:9000/mcp\"]\nconnect_timeout = 2\n\
             max_response_bytes = 4096\nclient_id_header = \"x-client\"\n",
        )
        .expect("write");
        let path = f.to_str().expect("utf8");
        let s = serve(&["--config", path]).expect("ok");
        assert_eq!(s.upstream.mounts.len(), 1);
        assert_eq!(s.upstream.limits.connect_timeout.as_secs(), 2);
        assert_eq!(s.upstream.limits.max_response_bytes, 4096);
        assert_eq!(s.upstream.identity.client_id.as_str(), "x-client");
        std::fs::write(&f, "[upstream]\ntarget = \"x\"\n").expect("write");
        assert!(serve(&["--config", path]).is_err(), "unknown key refused");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
