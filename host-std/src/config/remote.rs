//! Settings that reach other servers: resource-server mode (`--issuer`,
//! the issuer's introspection) and client ID metadata documents.

use std::time::Duration;

use super::{ConfigError, FileConfig, ServeArgs};

/// `--issuer` and its companions (flags > env > file).
pub(super) fn resolve_remote_issuer(
    serve: &ServeArgs,
    file: &FileConfig,
) -> Result<Option<crate::remote_issuer::RemoteIssuerSettings>, ConfigError> {
    let Some(issuer) = serve
        .issuer
        .clone()
        .or_else(|| file.issuer.clone())
        .filter(|i| !i.trim().is_empty())
    else {
        return Ok(None);
    };
    let allow_private = serve
        .issuer_allow_private
        .or(file.issuer_allow_private)
        .unwrap_or(false);
    let mut settings =
        crate::remote_issuer::RemoteIssuerSettings::new(issuer.trim(), allow_private)
            .map_err(|e| ConfigError::new("--issuer", format!("{issuer:?}: {e}")))?;
    if let Some(d) = match (
        serve.issuer_jwks_min_interval,
        &file.issuer_jwks_min_interval,
    ) {
        (Some(d), _) => Some(d),
        (None, Some(v)) => Some(v.get("issuer_jwks_min_interval (config file)")?),
        (None, None) => None,
    } {
        settings.min_interval = d;
    }
    if let Some(d) = match (serve.issuer_jwks_refresh, &file.issuer_jwks_refresh) {
        (Some(d), _) => Some(d),
        (None, Some(v)) => Some(v.get("issuer_jwks_refresh (config file)")?),
        (None, None) => None,
    } {
        if d < Duration::from_secs(60) {
            return Err(ConfigError::new(
                "--issuer-jwks-refresh",
                "must be at least 60 seconds",
            ));
        }
        settings.refresh = d;
    }
    let introspect = serve
        .issuer_introspection
        .or(file.issuer_introspection)
        .unwrap_or(false);
    if introspect {
        let client_id = serve
            .issuer_client_id
            .clone()
            .or_else(|| file.issuer_client_id.clone())
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new("--issuer-client-id", "required with --issuer-introspection")
            })?;
        let secret = serve
            .issuer_client_secret
            .clone()
            .or_else(|| file.issuer_client_secret.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "--issuer-client-secret",
                    "required with --issuer-introspection (MCPAUTH_ISSUER_CLIENT_SECRET or \
                     issuer_client_secret in the config file)",
                )
            })?;
        let cache = match (
            serve.issuer_introspection_cache,
            &file.issuer_introspection_cache,
        ) {
            (Some(d), _) => d,
            (None, Some(v)) => v.get("issuer_introspection_cache (config file)")?,
            (None, None) => Duration::from_secs(10),
        };
        settings.introspection = Some(crate::remote_issuer::IntrospectionSettings {
            client_id: client_id.trim().to_owned(),
            client_secret: std::sync::Arc::new(zeroize::Zeroizing::new(secret)),
            cache,
        });
    }
    Ok(Some(settings))
}

/// `--client-metadata-documents` and its test-only companions.
pub(super) fn resolve_client_metadata(
    serve: &ServeArgs,
    file: &FileConfig,
) -> Result<Option<crate::cimd::CimdSettings>, ConfigError> {
    let enabled = serve
        .client_metadata_documents
        .or(file.client_metadata_documents)
        .unwrap_or(true);
    if !enabled {
        return Ok(None);
    }
    let ca_file = serve
        .dangerous_cimd_ca_file
        .clone()
        .or_else(|| file.dangerous_cimd_ca_file.clone());
    let extra_roots = match ca_file {
        Some(path) => crate::cimd::load_ca_file(&path)
            .map_err(|e| ConfigError::new("--dangerous-cimd-ca-file", e))?,
        None => Vec::new(),
    };
    Ok(Some(crate::cimd::CimdSettings {
        dangerous_allow_loopback: serve
            .dangerous_cimd_allow_loopback
            .or(file.dangerous_cimd_allow_loopback)
            .unwrap_or(false),
        extra_roots,
    }))
}
