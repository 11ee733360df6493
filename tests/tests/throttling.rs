//! Throttling of the unauthenticated authorization endpoints over real HTTP,
//! with peers at distinct loopback addresses (127.0.0.x; Linux routes the
//! whole 127/8 to the loopback interface):
//!
//! - a peer that failed alice's password too often is refused (429,
//!   `Retry-After`) while alice signs in from elsewhere;
//! - a peer spraying usernames is refused for every username;
//! - failures from many peers space attempts on a name, never lock it;
//! - `GET /authorize` is limited per peer (429 and `Retry-After`, an error
//!   page whose link returns `temporarily_unavailable` to the client; never
//!   an automatic redirect), other peers unaffected.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;

fn from(n: u8) -> reqwest::Client {
    client_builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .build()
        .expect("client")
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_authorization_throttles() {
    let dir = TempDir::new("throttling");
    let (code, _, err) = cli(&dir.0, &["user", "add", "alice"], &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
    let server = Server::start(&dir.0, &["--stateless"]).await;
    let client_id = register_public_client(&client(), &server.base).await;
    let at = |n: u8| Flow {
        http: from(n),
        ..Flow::behind(&server.base, &server.base, &client_id)
    };
    let (_, challenge) = pkce();

    // One peer fails alice's password five times: that peer is locked out,
    // even with the right password, with the sign-in page and Retry-After.
    let guesser = at(2);
    let page = guesser.authorize(&challenge, "st").await;
    for _ in 0..5 {
        let r = guesser
            .decide(&page.html, &page.cookie, "alice", "wrong password", "allow")
            .await;
        assert_eq!(r.status().as_u16(), 200, "the form again");
    }
    let r = guesser
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    assert_eq!(r.status().as_u16(), 429);
    let wait = retry_after(r.headers());
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Too many failed sign-in attempts")
    );
    // Alice, elsewhere, is not locked out by that peer.
    let alice = at(3);
    let page = alice.authorize(&challenge, "st").await;
    assert_eq!(
        alice
            .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
            .await
            .status(),
        303
    );

    // A peer spraying usernames is refused for every name.
    let sprayer = at(4);
    let page = sprayer.authorize(&challenge, "st").await;
    for i in 0..20 {
        let r = sprayer
            .decide(
                &page.html,
                &page.cookie,
                &format!("user{i}"),
                "guess",
                "allow",
            )
            .await;
        assert_eq!(r.status().as_u16(), 200);
    }
    let page = sprayer.authorize(&challenge, "st").await;
    let r = sprayer
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    assert_eq!(r.status().as_u16(), 429);

    // Many peers failing on one name (the guesser's 5 and 9 × 5 more reach
    // the per-user ceiling of 50): attempts on it are spaced, a few seconds
    // apart, not locked.
    for n in 10..19 {
        let peer = at(n);
        let page = peer.authorize(&challenge, "st").await;
        for _ in 0..5 {
            let r = peer
                .decide(
                    &page.html,
                    &page.cookie,
                    "alice",
                    "distributed guess",
                    "allow",
                )
                .await;
            assert_eq!(r.status().as_u16(), 200);
        }
    }
    let alice = at(30);
    let page = alice.authorize(&challenge, "st").await;
    let r = alice
        .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
        .await;
    assert_eq!(r.status().as_u16(), 429, "spaced");
    let wait = retry_after(r.headers());
    assert!(
        (1..=10).contains(&wait),
        "a short wait, not a lockout: {wait}"
    );
    tokio::time::sleep(Duration::from_secs(wait)).await;
    // The same peer on a new connection: the old one sat idle for up to the
    // server's 10 s header-read timeout, and a request racing its close is
    // reset (HTTP/1.1 clients do not retry a POST).
    let alice = at(30);
    assert_eq!(
        alice
            .decide(&page.html, &page.cookie, "alice", PASSWORD, "allow")
            .await
            .status(),
        303
    );

    // GET /authorize: 60 pending requests per peer per minute.
    let flooder = at(40);
    for i in 0..60 {
        let r = flooder.authorize(&challenge, "st").await;
        assert_eq!(r.status, 200, "request {i}");
    }
    let r = flooder.authorize(&challenge, "st").await;
    assert_eq!(r.status, 429, "an error page, not a redirect");
    assert!(r.headers.get("location").is_none());
    let wait = retry_after(&r.headers);
    assert!((1..=60).contains(&wait), "{wait}");
    let link = return_link(&r.html);
    assert!(link.starts_with(REDIRECT), "{link}");
    let q = query_of(&link);
    assert_eq!(
        param(&q, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(param(&q, "state").as_deref(), Some("st"));
    assert_eq!(at(41).authorize(&challenge, "st").await.status, 200);
    server.stop();
}

/// `GET /authorize` as the client `forwarded_for` behind the proxy at
/// 127.0.0.60; returns the status.
async fn authorize_via_proxy(flow: &Flow, challenge: &str, forwarded_for: &str) -> u16 {
    flow.http
        .get(flow.authorize_url(challenge, "st"))
        .header("x-forwarded-for", format!("198.51.100.99, {forwarded_for}"))
        .send()
        .await
        .expect("authorize")
        .status()
        .as_u16()
}

/// Behind a reverse proxy every request comes from the proxy's address.
/// From a trusted proxy (loopback by default) the client named by
/// `X-Forwarded-For` gets its own budget, so one flooding client does not
/// throttle the others; from an untrusted peer the header is ignored, so a
/// client cannot escape its budget by writing the header itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let (_, challenge) = pkce();
    for (args, trusted) in [
        (&["--stateless"][..], true),
        (
            &["--stateless", "--trusted-proxies", "10.0.0.0/8"][..],
            false,
        ),
    ] {
        let dir = TempDir::new("throttling-proxy");
        let server = Server::start(&dir.0, args).await;
        let client_id = register_public_client(&client(), &server.base).await;
        let proxy = Flow {
            http: from(60),
            ..Flow::new(&server.base, &client_id)
        };
        for i in 0..60 {
            let status = authorize_via_proxy(&proxy, &challenge, "203.0.113.1").await;
            assert_eq!(status, 200, "request {i}");
        }
        assert_eq!(
            authorize_via_proxy(&proxy, &challenge, "203.0.113.1").await,
            429,
            "the flooding client is throttled"
        );
        let other = authorize_via_proxy(&proxy, &challenge, "203.0.113.2").await;
        if trusted {
            assert_eq!(other, 200, "another client behind the proxy is not");
        } else {
            assert_eq!(other, 429, "an untrusted peer's header changes nothing");
        }
        server.stop();
    }
}
