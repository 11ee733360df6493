//! The settings tests (`serve` is shared with the tests of other modules).

use clap::Parser;

use super::*;

/// `mcpauth serve ARGS` resolved (for the settings tests of other modules too).
pub(crate) fn serve(args: &[&str]) -> Result<ServeSettings, ConfigError> {
    let mut v = vec!["mcpauth", "serve"];
    v.extend_from_slice(args);
    let cli = Cli::try_parse_from(v).expect("parse");
    match cli.command {
        Command::Serve(s) => resolve_serve(&cli.common, &s),
        _ => unreachable!(),
    }
}

#[test]
fn client_ids_may_start_with_a_hyphen() {
    let cli = Cli::try_parse_from(["mcpauth", "client", "remove", "-x4Fq"]).expect("parse");
    match cli.command {
        Command::Client {
            command: ClientCommand::Remove { client_id },
        } => assert_eq!(client_id, "-x4Fq"),
        _ => unreachable!(),
    }
}

/// Found by CI (the attacks suite's finding 7 failed once in a while): a
/// registered client's id that begins with `-` was refused as an unknown
/// flag after `--introspection-clients`, so the server did not start.
#[test]
fn introspection_client_ids_may_start_with_a_hyphen() {
    let s = serve(&["--introspection-clients", "-0Zq8,abc", "--stateless"]).expect("settings");
    assert_eq!(s.client_rules.introspection_clients, ["-0Zq8", "abc"]);
    // A resource server introspecting as a client of an mcpauth issuer.
    let s = serve(&[
        "--issuer",
        "https://a.example",
        "--issuer-introspection",
        "--issuer-client-id",
        "-rs1",
        "--issuer-client-secret",
        "s3cret-value",
    ])
    .expect("settings");
    let i = s.remote_issuer.expect("rs").introspection.expect("on");
    assert_eq!(i.client_id, "-rs1");
}

#[test]
fn client_metadata_documents_default_on_and_strict() {
    let s = serve(&[]).expect("ok");
    let cimd = s.client_metadata.expect("on by default");
    assert!(!cimd.dangerous_allow_loopback);
    assert!(cimd.extra_roots.is_empty());
    let s = serve(&["--client-metadata-documents", "false"]).expect("ok");
    assert!(s.client_metadata.is_none());
    let s = serve(&["--dangerous-cimd-allow-loopback"]).expect("ok");
    assert!(s.client_metadata.expect("on").dangerous_allow_loopback);
    let err =
        serve(&["--dangerous-cimd-ca-file", "/nonexistent/ca.pem"]).expect_err("missing CA file");
    assert!(
        err.to_string().contains("--dangerous-cimd-ca-file"),
        "{err}"
    );
}

#[test]
fn trusted_proxies_default_to_loopback_and_refuse_garbage() {
    let s = serve(&[]).expect("ok");
    assert_eq!(s.trusted_proxies, TrustedProxies::loopback());
    let s = serve(&["--trusted-proxies", "none"]).expect("ok");
    assert_eq!(s.trusted_proxies, TrustedProxies::none());
    let s = serve(&["--trusted-proxies", "10.0.0.0/8,192.0.2.7"]).expect("ok");
    assert_eq!(
        s.trusted_proxies,
        TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).expect("valid")
    );
    let err = serve(&["--trusted-proxies", "10.0.0.0/8,proxy.local"]).expect_err("refused");
    assert!(err.to_string().contains("--trusted-proxies"), "{err}");
    assert!(err.to_string().contains("proxy.local"), "{err}");
}

#[test]
fn resource_server_settings() {
    assert!(serve(&[]).expect("ok").remote_issuer.is_none());
    let s = serve(&["--issuer", "https://auth.example.com"]).expect("ok");
    let rs = s.remote_issuer.expect("resource-server mode");
    assert_eq!(rs.issuer, "https://auth.example.com");
    assert!(!rs.allow_private);
    assert_eq!(rs.min_interval, Duration::from_secs(30));
    let e = serve(&["--issuer", "http://127.0.0.1:9000"]).expect_err("http needs opt-in");
    assert_eq!(e.setting, "--issuer");
    let s = serve(&[
        "--issuer",
        "http://127.0.0.1:9000",
        "--issuer-allow-private",
        "--issuer-jwks-min-interval",
        "1s",
    ])
    .expect("ok");
    let rs = s.remote_issuer.expect("rs");
    assert!(rs.allow_private);
    assert_eq!(rs.min_interval, Duration::from_secs(1));
    assert!(rs.introspection.is_none());
    let e = serve(&["--issuer", "https://a.example", "--issuer-introspection"])
        .expect_err("no client id");
    assert_eq!(e.setting, "--issuer-client-id");
    let s = serve(&[
        "--issuer",
        "https://a.example",
        "--issuer-introspection",
        "--issuer-client-id",
        "rs-1",
        "--issuer-client-secret",
        "s3cret-value",
    ])
    .expect("ok");
    let i = s.remote_issuer.expect("rs").introspection.expect("on");
    assert_eq!(
        (i.client_id.as_str(), i.cache),
        ("rs-1", Duration::from_secs(10))
    );
    assert!(!format!("{i:?}").contains("s3cret"), "secret never printed");
    let e = serve(&["--issuer", "auth.example.com"]).expect_err("not a URL");
    assert_eq!(e.setting, "--issuer");
    let e = serve(&[
        "--issuer",
        "https://auth.example.com",
        "--resource",
        "https://d.example/mcp",
    ])
    .expect_err("no local AS");
    assert_eq!(e.setting, "--resource");
}

#[test]
fn defaults_on_loopback() {
    let s = serve(&[]).expect("ok");
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.public_url, "http://127.0.0.1:8080");
    assert_eq!(s.common.access_token_ttl, 3600);
}

#[test]
fn public_url_required_off_loopback() {
    let e = serve(&["--listen", "0.0.0.0:8080"]).expect_err("must fail");
    assert_eq!(e.setting, "--public-url");
    let e = serve(&[
        "--listen",
        "0.0.0.0:8080",
        "--public-url",
        "http://mcp.example.com",
    ])
    .expect_err("must fail");
    assert!(e.problem.contains("https"));
    let s = serve(&[
        "--listen",
        "0.0.0.0:8080",
        "--public-url",
        "https://mcp.example.com/",
    ])
    .expect("ok");
    assert_eq!(s.public_url, "https://mcp.example.com");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
    assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("soon").is_err());
    let e = serve(&["--access-token-ttl", "10"]).expect_err("too short");
    assert_eq!(e.setting, "--access-token-ttl");
}

#[test]
fn file_is_below_flags() {
    let dir = std::env::temp_dir().join(format!("mcpauth-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("c.toml");
    std::fs::write(
        &f,
        "listen = \"127.0.0.1:9000\"\naccess_token_ttl = \"2h\"\nstateless = true\n",
    )
    .expect("write");
    let path = f.to_str().expect("utf8");
    let s = serve(&["--config", path]).expect("ok");
    assert_eq!(s.listen.port(), 9000);
    assert_eq!(s.common.access_token_ttl, 7200);
    assert!(s.stateless);
    let s = serve(&[
        "--config",
        path,
        "--listen",
        "127.0.0.1:9100",
        "--stateless=false",
    ])
    .expect("ok");
    assert_eq!(s.listen.port(), 9100);
    assert!(!s.stateless);
    std::fs::write(&f, "lisen = 1\n").expect("write");
    let e = serve(&["--config", path]).expect_err("unknown key");
    assert_eq!(e.setting, "--config");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn privy_script_is_the_operators_or_the_built_in_one() {
    let public = "https://auth.example";
    // The operator's script wins, built in or not.
    for embedded in [Some(&b"glue"[..]), None] {
        let url = privy_script_url(Some("https://cdn.example/g.js".into()), embedded, public)
            .expect("operator's");
        assert_eq!(url, "https://cdn.example/g.js");
    }
    // The built-in one, versioned by its content.
    let a = privy_script_url(None, Some(b"glue one"), public).expect("built in");
    let b = privy_script_url(None, Some(b"glue two"), public).expect("built in");
    assert!(
        a.starts_with("https://auth.example/privy/glue.js?v="),
        "{a}"
    );
    assert_eq!(a.len(), "https://auth.example/privy/glue.js?v=".len() + 16);
    assert_ne!(a, b, "a new script gets a new URL");
    // Neither: refuse to start, and say how to build it.
    let e = privy_script_url(None, None, public).expect_err("no script");
    assert_eq!(e.setting, "--privy-app-id");
    assert!(e.to_string().contains("scripts/build-privy.sh"), "{e}");
}

#[test]
fn privy_settings() {
    let s = serve(&[]).expect("ok");
    assert!(s.privy.is_none(), "no Privy by default");
    let s = serve(&[
        "--privy-app-id",
        "app-1",
        "--privy-app-secret",
        "s3cret",
        "--privy-sdk-url",
        "https://cdn.example/glue.js",
        "--privy-sdk-integrity",
        "sha384-abc+/=",
        "--privy-api-url",
        "http://127.0.0.1:9/",
        "--privy-allowed-users",
        "did:privy:a, did:privy:b",
        "--privy-allowed-email-domains",
        "Example.com",
    ])
    .expect("ok");
    let p = s.privy.expect("privy");
    assert_eq!(p.allowed_users, ["did:privy:a", "did:privy:b"]);
    assert_eq!(p.allowed_email_domains, ["example.com"]);
    assert_eq!(p.sdk_integrity.as_deref(), Some("sha384-abc+/="));
    // A script from another origin needs its integrity; one served by
    // this origin does not.
    let cdn = [
        "--privy-app-id",
        "a",
        "--privy-app-secret",
        "s",
        "--privy-sdk-url",
    ];
    let e =
        serve(&[&cdn[..], &["https://cdn.example/glue.js"]].concat()).expect_err("no integrity");
    assert_eq!(e.setting, "--privy-sdk-integrity");
    let own = serve(&[&cdn[..], &["http://127.0.0.1:8080/glue.js"]].concat()).expect("ok");
    assert!(own.privy.expect("privy").sdk_integrity.is_none());
    let e = serve(
        &[
            &cdn[..],
            &[
                "http://127.0.0.1:8080/glue.js",
                "--privy-allowed-users",
                "alice",
            ],
        ]
        .concat(),
    )
    .expect_err("not a DID");
    assert_eq!(e.setting, "--privy-*");
    let p = serve(&[
        "--privy-app-id",
        "app-1",
        "--privy-app-secret",
        "s3cret",
        "--privy-sdk-url",
        "https://cdn.example/glue.js",
        "--privy-sdk-integrity",
        "sha384-abc",
        "--privy-api-url",
        "http://127.0.0.1:9/",
    ])
    .expect("ok")
    .privy
    .expect("privy");
    assert_eq!(p.app_id, "app-1");
    assert_eq!(p.api_url, "http://127.0.0.1:9");
    assert!(p.verification_key.is_none());
    assert_eq!(p.jwks_url, "https://api.privy.io/v1/apps/app-1/jwks.json");
    // Only the app id: the key from the app's public key set.
    let p = serve(&[
        "--privy-app-id",
        "app-2",
        "--privy-sdk-url",
        "http://127.0.0.1:8080/glue.js",
        "--privy-jwks-url",
        "http://127.0.0.1:9/keys.json",
    ])
    .expect("no key file or secret needed")
    .privy
    .expect("privy");
    assert!(p.app_secret.is_none() && p.verification_key.is_none());
    assert_eq!(p.jwks_url, "http://127.0.0.1:9/keys.json");
    assert!(!format!("{p:?}").contains("s3cret"), "secret never printed");
    let e = serve(&["--privy-sdk-url", "https://x/g.js"]).expect_err("no app id");
    assert_eq!(e.setting, "--privy-app-id");
    // Without --privy-sdk-url: the script built into this binary, or a
    // start-up error that names the build script.
    let only_id = serve(&["--privy-app-id", "a", "--privy-app-secret", "s"]);
    match crate::privy::embedded_glue() {
        Some(_) => {
            let p = only_id.expect("the built-in script").privy.expect("privy");
            assert!(
                p.sdk_url
                    .starts_with("http://127.0.0.1:8080/privy/glue.js?v="),
                "{}",
                p.sdk_url
            );
            assert!(p.sdk_integrity.is_none());
        }
        None => {
            let e = only_id.expect_err("no script");
            assert_eq!(e.setting, "--privy-app-id");
            assert!(e.to_string().contains("scripts/build-privy.sh"), "{e}");
        }
    }
    let e = serve(&[
        "--privy-app-id",
        "a",
        "--privy-app-secret",
        "s",
        "--privy-sdk-integrity",
        "sha384-abc",
    ])
    .expect_err("integrity of which script?");
    assert_eq!(e.setting, "--privy-sdk-integrity");
    let e = serve(&[
        "--privy-app-id",
        "a",
        "--privy-app-secret",
        "s",
        "--privy-sdk-url",
        "https://x/g.js",
        "--privy-sdk-integrity",
        "sha384-abc",
        "--privy-api-url",
        "ftp://x",
    ])
    .expect_err("api url");
    assert_eq!(e.setting, "--privy-api-url");
    // A key file that is not a P-256 SPKI PEM.
    let f = std::env::temp_dir().join(format!("mcpauth-privy-{}.pem", std::process::id()));
    std::fs::write(
        &f,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .expect("write");
    let e = serve(&[
        "--privy-app-id",
        "a",
        "--privy-sdk-url",
        "https://x/g.js",
        "--privy-verification-key",
        f.to_str().expect("utf8"),
    ])
    .expect_err("bad key");
    assert_eq!(e.setting, "--privy-verification-key");
    let _ = std::fs::remove_file(&f);
}
