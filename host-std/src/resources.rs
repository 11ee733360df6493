//! The protected resources tokens are issued for, as the operator declares
//! them: `--resource` flags, `MCPAUTH_RESOURCES`, or `[[resources]]` tables
//! in the TOML file. The built-in MCP endpoint `<public URL>/mcp` is always
//! the first (the default when a client names no resource); a declaration
//! with its URL only renames it or changes its scopes and lifetime.
//!
//! A flag value is `URL` followed by `;key=value` settings:
//! `http://10.0.0.2/mcp;name=Greenhouse sensors;scopes=sensors:read,sensors:write;access_token_ttl=5m`.
//! Keys: `name`, `scopes` (comma-separated), `access_token_ttl` and `kind`
//! (`builtin` or `external`). Proxied resources are mounted with
//! `--upstream /PATH=URL` (see `crate::upstream`); a declaration with the
//! mount's URL names it and sets its scopes and lifetime.

use std::time::Duration;

use mcpauth_core::oauth::{ProtectedResource, ResourceKind, ServerConfig};
use serde::Deserialize;

use crate::config::{ConfigError, DurationValue};

/// Most resources one server declares. Each costs a signature check when a
/// token is introspected (its audience is tried against each), so the list
/// is bounded like everything else.
pub const MAX_RESOURCES: usize = 64;

/// Shortest per-resource access-token lifetime. A device that cannot learn
/// of revocations refuses a revoked token once it expires, so short is
/// useful; below this, clock skew between issuer and device dominates.
pub const MIN_RESOURCE_TOKEN_TTL: Duration = Duration::from_secs(10);

/// The setting errors are reported against.
const SETTING: &str = "--resource";

/// One declared resource (a `[[resources]]` table, or a parsed flag).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    url: String,
    name: Option<String>,
    scopes: Option<Vec<String>>,
    access_token_ttl: Option<DurationValue>,
    kind: Option<String>,
}

impl ResourceEntry {
    /// Parse a flag value `URL[;key=value]…`.
    pub fn parse(spec: &str) -> Result<ResourceEntry, ConfigError> {
        let mut parts = spec.split(';');
        let url = parts.next().unwrap_or_default().trim();
        let mut entry = ResourceEntry {
            url: url.to_owned(),
            ..ResourceEntry::default()
        };
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                return Err(bad(spec, format!("{part:?} is not key=value")));
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "name" => entry.name = Some(value),
                "scopes" => {
                    entry.scopes = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                "access_token_ttl" | "ttl" => {
                    entry.access_token_ttl = Some(DurationValue::Text(value));
                }
                "kind" => entry.kind = Some(value),
                other => {
                    return Err(bad(
                        spec,
                        format!("unknown key {other:?} (name, scopes, access_token_ttl, kind)"),
                    ));
                }
            }
        }
        Ok(entry)
    }
}

fn bad(what: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(SETTING, format!("{what:?}: {}", problem.into()))
}

/// The resource list: the built-in `<public_url>/mcp` first, then the
/// declared ones, each checked (`access_token_ttl` is the server's).
pub fn resolve(
    public_url: &str,
    access_token_ttl: u64,
    entries: &[ResourceEntry],
) -> Result<Vec<ProtectedResource>, ConfigError> {
    if entries.len() > MAX_RESOURCES {
        return Err(ConfigError::new(
            SETTING,
            format!("at most {MAX_RESOURCES} resources"),
        ));
    }
    let mut config = ServerConfig::new(public_url);
    config.access_token_ttl = access_token_ttl;
    let builtin_id = config
        .default_resource()
        .map(|r| r.identifier.clone())
        .ok_or_else(|| ConfigError::new("--public-url", "is not a valid URL"))?;
    for entry in entries {
        let resource = build(entry, &config, &builtin_id)?;
        if resource.kind == ResourceKind::Builtin {
            config.resources[0] = resource;
        } else if config.resource(&resource.identifier).is_some() {
            return Err(bad(&entry.url, "declared twice"));
        } else {
            config.resources.push(resource);
        }
    }
    config
        .validate()
        .map_err(|e| ConfigError::new(SETTING, e))?;
    Ok(config.resources)
}

fn build(
    entry: &ResourceEntry,
    config: &ServerConfig,
    builtin_id: &str,
) -> Result<ProtectedResource, ConfigError> {
    let url = entry.url.as_str();
    let Some(probe) = ProtectedResource::new(url, ResourceKind::External) else {
        return Err(bad(url, "is not an absolute http(s) URL"));
    };
    let is_builtin_url = probe.identifier == builtin_id;
    let kind = match entry.kind.as_deref() {
        None if is_builtin_url => ResourceKind::Builtin,
        None | Some("external") => ResourceKind::External,
        Some("builtin") => ResourceKind::Builtin,
        Some("proxy") => {
            return Err(bad(
                url,
                "mount a proxied server with --upstream /PATH=URL; a --resource with \
                 the mount's URL (and no kind) names it",
            ));
        }
        Some(other) => {
            return Err(bad(
                url,
                format!("unknown kind {other:?} (builtin, external)"),
            ));
        }
    };
    if kind == ResourceKind::Builtin && !is_builtin_url {
        return Err(bad(
            url,
            format!("the built-in MCP endpoint is {builtin_id}"),
        ));
    }
    let mut resource = probe;
    resource.kind = kind;
    if let Some(name) = &entry.name {
        resource.display_name = name.clone();
    } else if resource.kind == ResourceKind::Builtin {
        resource.display_name = config.resources[0].display_name.clone();
    }
    if let Some(scopes) = &entry.scopes {
        resource.scopes = scopes.clone();
    }
    if resource.kind == ResourceKind::Builtin && !resource.scopes.iter().any(|s| s == "mcp") {
        return Err(bad(url, "the built-in MCP endpoint needs the scope mcp"));
    }
    if let Some(ttl) = &entry.access_token_ttl {
        let ttl = ttl
            .get("access_token_ttl")
            .map_err(|e| bad(url, format!("access_token_ttl {}", e.problem)))?;
        if ttl < MIN_RESOURCE_TOKEN_TTL || ttl.as_secs() > config.access_token_ttl {
            return Err(bad(
                url,
                format!(
                    "access_token_ttl must be between {} seconds and the server's \
                     access-token lifetime ({} s)",
                    MIN_RESOURCE_TOKEN_TTL.as_secs(),
                    config.access_token_ttl
                ),
            ));
        }
        resource.access_token_ttl = Some(ttl.as_secs());
    }
    Ok(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "http://127.0.0.1:8080";

    fn secs(s: &str) -> u64 {
        crate::config::parse_duration(s)
            .expect("duration")
            .as_secs()
    }

    fn resolve_specs(specs: &[&str]) -> Result<Vec<ProtectedResource>, ConfigError> {
        let entries = specs
            .iter()
            .map(|s| ResourceEntry::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        resolve(PUBLIC, 3600, &entries)
    }

    #[test]
    fn builtin_first_then_declared() {
        let r = resolve_specs(&[
            "http://10.0.0.2:80/mcp;name=Greenhouse sensors;scopes=sensors:read, sensors:write;ttl=5m",
        ])
        .expect("ok");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].identifier, "http://127.0.0.1:8080/mcp");
        assert_eq!(r[0].kind, ResourceKind::Builtin);
        assert_eq!(r[1].identifier, "http://10.0.0.2:80/mcp");
        assert_eq!(r[1].display_name, "Greenhouse sensors");
        assert_eq!(r[1].scopes, ["sensors:read", "sensors:write"]);
        assert_eq!(r[1].access_token_ttl, Some(secs("5m")));
        assert_eq!(r[1].kind, ResourceKind::External);
        assert_eq!(resolve_specs(&[]).expect("ok").len(), 1);
    }

    #[test]
    fn the_builtin_can_be_renamed_but_keeps_mcp() {
        let r =
            resolve_specs(&["http://127.0.0.1:8080/mcp/;name=Tools;scopes=mcp,extra"]).expect("ok");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].display_name, "Tools");
        assert_eq!(r[0].scopes, ["mcp", "extra"]);
        let e = resolve_specs(&["http://127.0.0.1:8080/mcp;scopes=other"]).expect_err("no mcp");
        assert!(e.problem.contains("scope mcp"), "{e}");
    }

    #[test]
    fn proxies_are_mounted_with_upstream() {
        let e = resolve_specs(&["http://127.0.0.1:8080/tickets;kind=proxy"]).expect_err("kind");
        assert!(e.problem.contains("--upstream"), "{e}");
        let e = resolve_specs(&["http://127.0.0.1:8080/t;upstream=http://127.0.0.1:9000"])
            .expect_err("no such key");
        assert!(e.problem.contains("unknown key"), "{e}");
        // Naming a mount: accepted here, matched to the mount by the app.
        let r = resolve_specs(&["http://127.0.0.1:8080/tickets;name=Tickets"]).expect("ok");
        assert_eq!(r[1].display_name, "Tickets");
    }

    #[test]
    fn from_the_file_below_the_flags() {
        use clap::Parser;
        let dir = std::env::temp_dir().join(format!("mcpauth-res-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "[[resources]]\nurl = \"http://10.0.0.2/mcp\"\nname = \"Greenhouse\"\n\
             scopes = [\"sensors:read\"]\naccess_token_ttl = \"90s\"\n\
             [[resources]]\nurl = \"https://rs.example/mcp\"\nkind = \"external\"\n",
        )
        .expect("write");
        let path = f.to_str().expect("utf8");
        let settings = |extra: &[&str]| {
            let mut args = vec!["mcpauth", "serve", "--config", path];
            args.extend_from_slice(extra);
            let cli = crate::config::Cli::try_parse_from(args).expect("parse");
            match cli.command {
                crate::config::Command::Serve(s) => crate::config::resolve_serve(&cli.common, &s),
                _ => unreachable!(),
            }
        };
        let s = settings(&[]).expect("ok");
        let ids: Vec<&str> = s.resources.iter().map(|r| r.identifier.as_str()).collect();
        assert_eq!(
            ids,
            [
                "http://127.0.0.1:8080/mcp",
                "http://10.0.0.2/mcp",
                "https://rs.example/mcp"
            ]
        );
        assert_eq!(s.resources[1].access_token_ttl, Some(90));
        assert_eq!(s.resources[1].display_name, "Greenhouse");
        // Flags replace the file's list; `|` separates several.
        let s = settings(&[
            "--resource",
            "http://10.0.0.9/mcp|http://10.0.0.8/mcp;name=B",
        ])
        .expect("ok");
        let ids: Vec<&str> = s.resources.iter().map(|r| r.identifier.as_str()).collect();
        assert_eq!(
            ids,
            [
                "http://127.0.0.1:8080/mcp",
                "http://10.0.0.9/mcp",
                "http://10.0.0.8/mcp"
            ]
        );
        std::fs::write(
            &f,
            "[[resources]]\nurl = \"http://10.0.0.2/mcp\"\ncolour = 1\n",
        )
        .expect("write");
        let e = settings(&[]).expect_err("unknown key");
        assert_eq!(e.setting, "--config");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn mistakes_are_named() {
        for (spec, needle) in [
            ("not a url", "http(s) URL"),
            ("http://10.0.0.2/mcp;colour=red", "unknown key"),
            ("http://10.0.0.2/mcp;name", "key=value"),
            ("http://10.0.0.2/mcp;kind=device", "unknown kind"),
            ("http://10.0.0.2/mcp;ttl=5", "between 10 seconds"),
            ("http://10.0.0.2/mcp;ttl=2h", "between 10 seconds"),
            ("http://10.0.0.2/mcp;ttl=soon", "access_token_ttl"),
            ("http://10.0.0.2/mcp;scopes=a\"b", "scope"),
            (
                "http://10.0.0.2/mcp;kind=builtin",
                "built-in MCP endpoint is",
            ),
        ] {
            let e = resolve_specs(&[spec]).expect_err(spec);
            assert_eq!(e.setting, SETTING);
            assert!(e.to_string().contains(needle), "{spec}: {e}");
        }
        let e = resolve_specs(&["http://10.0.0.2/mcp", "http://10.0.0.2/mcp/"]).expect_err("twice");
        assert!(e.problem.contains("twice"), "{e}");
    }
}
