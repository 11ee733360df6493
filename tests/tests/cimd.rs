//! Client ID metadata documents over real HTTP against the real program: a
//! local https server (a CA and certificate generated here, at run time)
//! publishes documents; `mcpauth serve` trusts that CA and may reach
//! loopback only through the test-only `--dangerous-cimd-*` settings.
//! Discovery, the whole grant with a URL `client_id`, the cache, every
//! refusal, and the SSRF refusal of loopback without the test setting.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// One canned answer of the document server.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    content_type: &'static str,
    extra_headers: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn json(doc: &Value) -> Answer {
        Answer {
            status: "200 OK",
            content_type: "application/json",
            extra_headers: "Cache-Control: max-age=600\r\n",
            body: doc.to_string().into_bytes(),
        }
    }
}

/// A local https server answering fixed documents by path and counting
/// requests per path.
struct DocumentServer {
    origin: String,
    ca_file: TempDir,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocumentServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn ca_path(&self) -> String {
        self.ca_file.0.join("ca.pem").display().to_string()
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Start on 127.0.0.1 with a fresh CA; `answers(origin)` gives the
    /// documents by path.
    async fn start(answers: impl FnOnce(&str) -> HashMap<&'static str, Answer>) -> DocumentServer {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mcpauth cimd test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("leaf params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf");

        let ca_file = TempDir::new("cimd-ca");
        std::fs::create_dir_all(&ca_file.0).expect("ca dir");
        std::fs::write(ca_file.0.join("ca.pem"), ca.pem()).expect("ca.pem");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der");
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let answers = Arc::new(answers(&origin));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, answers, hits) =
                    (acceptor.clone(), answers.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    *hits.lock().expect("lock").entry(path.clone()).or_insert(0) += 1;
                    let answer = answers.get(path.as_str()).cloned().unwrap_or(Answer {
                        status: "404 Not Found",
                        content_type: "text/plain",
                        extra_headers: "",
                        body: b"not found".to_vec(),
                    });
                    let mut out = format!(
                        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
                        answer.status,
                        answer.content_type,
                        answer.body.len(),
                        answer.extra_headers
                    )
                    .into_bytes();
                    out.extend_from_slice(&answer.body);
                    let _ = tls.write_all(&out).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        DocumentServer {
            origin,
            ca_file,
            hits,
        }
    }
}

fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Metadata Test Client",
        "client_uri": "https://client.example",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// The documents the tests publish, by path.
fn answers(origin: &str) -> HashMap<&'static str, Answer> {
    let mut m = HashMap::new();
    m.insert(
        "/good.json",
        Answer::json(&document(&format!("{origin}/good.json"))),
    );
    m.insert(
        "/mismatch.json",
        Answer::json(&document(&format!("{origin}/other.json"))),
    );
    let mut bad_redirect = document(&format!("{origin}/bad-redirect.json"));
    bad_redirect["redirect_uris"] = json!(["http://client.example/cb"]);
    m.insert("/bad-redirect.json", Answer::json(&bad_redirect));
    let mut big = document(&format!("{origin}/big.json"));
    big["client_uri"] = "x".repeat(8 * 1024).into();
    m.insert("/big.json", Answer::json(&big));
    m.insert(
        "/html.json",
        Answer {
            content_type: "text/html",
            ..Answer::json(&document(&format!("{origin}/html.json")))
        },
    );
    m.insert(
        "/moved.json",
        Answer {
            status: "302 Found",
            extra_headers: "Location: /good.json\r\n",
            ..Answer::json(&json!({}))
        },
    );
    m
}

async fn discovery(base: &str) -> Value {
    let r = client()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.expect("body")).expect("json")
}

/// GET /authorize is refused with an error page (no redirect) saying `why`,
/// and /token answers `invalid_client`.
async fn assert_refused(flow: &Flow, why: &str) {
    let (verifier, challenge) = pkce();
    let page = flow.authorize(&challenge, "st").await;
    assert_eq!(page.status, 400, "{}: {}", flow.client_id, page.html);
    assert!(page.headers.get("location").is_none());
    assert!(page.html.contains(why), "{}: {}", flow.client_id, page.html);
    let r = flow.exchange("no-such-code", &verifier).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_document_client_walks_the_whole_grant() {
    let docs = DocumentServer::start(answers).await;
    let dir = TempDir::new("cimd");
    let (code, _, err) = cli(&dir.0, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    let server = Server::start(
        &dir.0,
        &[
            "--dangerous-cimd-allow-loopback",
            "--dangerous-cimd-ca-file",
            &docs.ca_path(),
        ],
    )
    .await;
    assert_eq!(
        discovery(&server.base).await["client_id_metadata_document_supported"],
        true
    );

    let client_id = docs.url("/good.json");
    let flow = Flow::new(&server.base, &client_id);
    let (verifier, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-1").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("<strong>Metadata Test Client</strong>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("(from <code>127.0.0.1:"),
        "{}",
        page.html
    );
    // The redirect is on loopback: the page warns that anyone could be asking.
    assert!(
        page.html.contains("program on this computer"),
        "{}",
        page.html
    );
    let r = flow
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    let code = flow.code_from(&r, "st-1");
    let r = flow.exchange(&code, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tokens = Tokens::from_body(&r.body);

    let who = flow.whoami(&tokens.access).await;
    assert_eq!(who.status, 200, "{}", who.body);
    assert_eq!(
        who.body["result"]["structuredContent"]["client_id"],
        client_id.as_str()
    );
    assert_eq!(flow.introspect(&tokens.access).await["active"], true);
    let r = flow.refresh(&tokens.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = Tokens::from_body(&r.body);
    assert_eq!(flow.revoke(&rotated.refresh).await, 200);
    assert_eq!(
        flow.refresh(&rotated.refresh).await.body["error"],
        "invalid_grant"
    );
    // authorize, consent, token, introspect, refresh, revoke: one fetch.
    assert_eq!(docs.hits("/good.json"), 1);

    // Every refusal, each with its own reason on the page.
    for (path, why) in [
        ("/mismatch.json", "metadata document is invalid"),
        ("/bad-redirect.json", "metadata document is invalid"),
        ("/big.json", "too large"),
        ("/html.json", "could not be fetched"),
        ("/moved.json", "could not be fetched"),
        ("/missing.json", "could not be fetched"),
    ] {
        assert_refused(&Flow::new(&server.base, &docs.url(path)), why).await;
        // /authorize and /token asked; the failure was remembered.
        assert_eq!(docs.hits(path), 1, "{path}");
    }
    // A document never redirects to a URI it does not list.
    let q = form(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = flow
        .http
        .get(format!("{}/authorize?{q}", server.base))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_documents_are_refused_and_the_feature_can_be_turned_off() {
    let docs = DocumentServer::start(answers).await;
    let client_id = docs.url("/good.json");

    // Default settings (the CA trusted, but no loopback): SSRF refusal.
    let dir = TempDir::new("cimd-ssrf");
    let server = Server::start(&dir.0, &["--dangerous-cimd-ca-file", &docs.ca_path()]).await;
    assert_eq!(
        discovery(&server.base).await["client_id_metadata_document_supported"],
        true
    );
    let flow = Flow::new(&server.base, &client_id);
    assert_refused(&flow, "may not contact").await;
    assert_eq!(docs.hits("/good.json"), 0, "nothing may reach loopback");
    server.stop();

    // Turned off: not advertised, and a URL client_id is just unknown.
    let dir = TempDir::new("cimd-off");
    let server = Server::start(
        &dir.0,
        &[
            "--client-metadata-documents",
            "false",
            "--dangerous-cimd-allow-loopback",
            "--dangerous-cimd-ca-file",
            &docs.ca_path(),
        ],
    )
    .await;
    assert!(
        discovery(&server.base)
            .await
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    let flow = Flow::new(&server.base, &client_id);
    assert_refused(&flow, "not registered").await;
    assert_eq!(docs.hits("/good.json"), 0);
    server.stop();
}
