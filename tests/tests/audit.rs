//! The audit log (`serve --audit-log FILE`): one JSON object per line for
//! every security event of a real flow, and not one secret of that flow
//! (password, client secret, code, access or refresh token) in it.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn audit_log_has_the_events_and_no_secret() {
    let dir = TempDir::new("audit");
    let (status, _, err) = cli(&dir.0, &["user", "add", "alice"], PASSWORD);
    assert_eq!(status, 0, "{err}");
    let log = dir.0.parent().expect("parent").join("audit.log");
    let server = Server::start(&dir.0, &["--audit-log", log.to_str().expect("utf-8 path")]).await;
    let http = client();

    // A confidential client: its secret must never reach the log.
    let reg = register(
        &http,
        &server.base,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_post",
               "grant_types": ["authorization_code", "refresh_token"],
               "client_name": "audited"}),
    )
    .await;
    assert_eq!(reg.status, 201, "{}", reg.body);
    let client_id = reg.body["client_id"].as_str().expect("id").to_owned();
    let secret = reg.body["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let flow = Flow::new(&server.base, &client_id);
    let with_secret = |pairs: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut v = pairs.to_vec();
        v.push(("client_id", client_id.clone()));
        v.push(("client_secret", secret.clone()));
        v
    };
    let token = |pairs: Vec<(&'static str, String)>| {
        let flow = flow.clone();
        async move {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            flow.token(&refs).await
        }
    };

    // A wrong password (also typed as a name), a denial, then a grant.
    let wrong_password = "wrong horse battery";
    let (verifier, challenge) = pkce();
    let page = flow.authorize(&challenge, "st-1").await;
    let r = flow
        .decide(&page.html, &page.cookie, "alice", wrong_password, "allow")
        .await;
    assert_eq!(r.status(), 200);
    let page = flow.authorize(&challenge, "st-1").await;
    let r = flow
        .decide(
            &page.html,
            &page.cookie,
            "p@ss word!",
            wrong_password,
            "allow",
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = flow.authorize(&challenge, "st-1").await;
    let r = flow.decide(&page.html, &page.cookie, "", "", "deny").await;
    assert_eq!(r.status(), 303);
    let page = flow.authorize(&challenge, "st-1").await;
    let csrf = hidden(&page.html, "csrf");
    let r = flow
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    let code = flow.code_from(&r, "st-1");
    let first = token(with_secret(&[
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.clone()),
    ]))
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let tokens = Tokens::from_body(&first.body);
    let second = token(with_secret(&[
        ("grant_type", "refresh_token".into()),
        ("refresh_token", tokens.refresh.clone()),
    ]))
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let rotated = Tokens::from_body(&second.body);
    let revoke = http
        .post(format!("{}/revoke", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", &rotated.access),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ]))
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), 200);
    let reuse = token(with_secret(&[
        ("grant_type", "refresh_token".into()),
        ("refresh_token", tokens.refresh.clone()),
    ]))
    .await;
    assert_eq!(reuse.status, 400, "{}", reuse.body);
    server.stop();

    let (text, lines) = audit_log(&log);
    let events: Vec<&str> = lines
        .iter()
        .map(|l| l["event"].as_str().expect("every line names its event"))
        .collect();
    for expected in [
        "client_registered",
        "sign_in_failed",
        "consent_denied",
        "sign_in",
        "token_issued",
        "refresh_reuse_detected",
        "token_revoked",
    ] {
        assert!(events.contains(&expected), "{expected} missing: {text}");
    }
    let issued: Vec<&str> = lines
        .iter()
        .filter(|l| l["event"] == "token_issued")
        .map(|l| l["grant"].as_str().expect("grant"))
        .collect();
    assert_eq!(issued, ["authorization_code", "refresh_token"]);
    let sign_in = lines
        .iter()
        .find(|l| l["event"] == "sign_in")
        .expect("sign_in");
    assert_eq!(sign_in["client_id"], client_id.as_str());
    assert_eq!(sign_in["peer"], "127.0.0.1");
    assert!(
        sign_in["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("user_"))
    );
    assert!(lines.iter().all(|l| l["timestamp"].is_string()));
    // The valid name of the failed sign-in is kept; the odd one is withheld.
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "sign_in_failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["username"], "alice");
    assert_eq!(failed[1]["username_withheld"], true);
    assert!(failed[1].get("username").is_none());

    for (what, secret_value) in [
        ("password", PASSWORD),
        ("wrong password", wrong_password),
        ("odd user name", "p@ss word!"),
        ("client secret", secret.as_str()),
        ("code", code.as_str()),
        ("PKCE verifier", verifier.as_str()),
        ("CSRF value", csrf.as_str()),
        ("access token", tokens.access.as_str()),
        ("refresh token", tokens.refresh.as_str()),
        ("rotated access token", rotated.access.as_str()),
        ("rotated refresh token", rotated.refresh.as_str()),
    ] {
        assert!(
            !text.contains(secret_value),
            "the {what} is in the audit log"
        );
    }
    // The refresh token's secret half, on its own.
    for refresh in [&tokens.refresh, &rotated.refresh] {
        let (_, secret_half) = refresh.split_once('.').expect("family.secret");
        assert!(!text.contains(secret_half));
    }
}
