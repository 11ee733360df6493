//! The server-rendered pages of the authorization endpoint: one sign-in and
//! consent form, and an error page. Small, escaped, no JavaScript, no
//! external resources; both hosts serve them unchanged.
//!
//! Stable form contract (hosts and tests rely on it): `POST` to the
//! authorization endpoint with fields `request_id`, `csrf` (hidden),
//! `username`, `password`, and a button `name="decision"` with value
//! `allow` or `deny`. With Privy configured ([`super::PrivyConfig`]) the
//! form also has a hidden `privy_token` field and a "Continue with Privy"
//! button (`id="privy-login"`), and the page loads the configured SDK script
//! (the only script, allowed by URL in the CSP), which fills `privy_token`
//! and submits the form with `decision=allow`. Each upstream OpenID
//! provider ([`super::OidcProvider`]) adds a submit button
//! `name="upstream" value="<provider id>"` (`id="upstream-<provider id>"`),
//! "Continue with <name>". Without password sign-in
//! ([`ServerConfig::password_login`] off) the username, password and Allow
//! are left out.

use alloc::format;
use alloc::string::String;

use super::ServerConfig;
use super::cimd::is_client_id_url;
use super::config::{is_loopback_host, split_url};
use super::wire::html_escape;
use crate::http::Response;
use crate::store::{ClientRecord, PendingAuthorization};

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f5f5f7;color:#1d1d1f;\
margin:0;padding:2rem 1rem}main{max-width:26rem;margin:0 auto;background:#fff;\
border-radius:12px;padding:1.5rem;box-shadow:0 1px 4px rgba(0,0,0,.1)}\
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}\
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}\
.buttons{display:flex;gap:.5rem;margin-top:1.2rem}button{flex:1;padding:.6rem;font-size:1rem}\
.error{color:#b00020;font-weight:600}code{word-break:break-all}";

/// The default policy: no script at all.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers of every page: no framing (clickjacking), no caching,
/// no inline script, no referrer leaking request ids.
fn html(status: u16, body: String) -> Response {
    html_with_csp(status, body, String::from(CSP))
}

fn html_with_csp(status: u16, body: String, csp: String) -> Response {
    Response::empty(status)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Content-Security-Policy", csp)
        .with_header("X-Frame-Options", "DENY")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache")
        .with_body(body)
}

fn document(config: &ServerConfig, title: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · {service}</title><style>{STYLE}</style></head>\
<body><main>{main}</main></body></html>\n",
        title = html_escape(title),
        service = html_escape(&config.service_name),
    )
}

/// An error page (the authorization endpoint never redirects to an
/// unverified client).
pub(crate) fn error_page(config: &ServerConfig, status: u16, message: &str) -> Response {
    let main = format!(
        "<h1>Cannot continue</h1><p class=\"error\" role=\"alert\">{}</p>\
<p>Return to the application and start the connection again.</p>",
        html_escape(message)
    );
    html(status, document(config, "Error", &main))
}

/// An error page for a request whose client and redirect URI are known but
/// not trusted (anyone may register them): the link back to the client
/// carries the error, and the page says where it goes, so following it is
/// the user's decision (RFC 9700 §4.11.2).
pub(crate) fn error_page_with_return(
    config: &ServerConfig,
    status: u16,
    message: &str,
    return_url: &str,
) -> Response {
    let main = format!(
        "<h1>Cannot continue</h1><p class=\"error\" role=\"alert\">{message}</p>\
<p><a href=\"{href}\" rel=\"noreferrer\">Return to <code>{target}</code></a> \
only if you started this connection yourself.</p>",
        message = html_escape(message),
        href = html_escape(return_url),
        target = html_escape(&redirect_target_for_display(return_url)),
    );
    html(status, document(config, "Error", &main))
}

/// The sign-in and consent page for `pending`; `username` pre-fills the
/// form when it is shown again (never the password).
pub(crate) fn consent_page(
    config: &ServerConfig,
    status: u16,
    client: &ClientRecord,
    pending: &PendingAuthorization,
    csrf: &str,
    message: Option<&str>,
    username: &str,
) -> Response {
    let name = client.client_name.as_deref().unwrap_or("An application");
    // A client ID metadata document names itself: show whose domain
    // published it, so a look-alike name cannot pass for another client.
    let publisher = Some(&client.client_id)
        .filter(|id| is_client_id_url(id))
        .map(|id| {
            let host = redirect_target_for_display(id);
            format!(" (from <code>{}</code>)", html_escape(&host))
        })
        .unwrap_or_default();
    // Anyone can name a published document and listen on a loopback port
    // (MCP 2025-11-25, "Localhost Redirect URI Risks"): say so.
    let loopback_warning = if !publisher.is_empty()
        && split_url(&pending.redirect_uri).is_some_and(|u| is_loopback_host(u.host))
    {
        "<p class=\"error\">This application returns to a program on this computer. \
Any program can claim this name; allow only if you started this connection yourself.</p>"
    } else {
        ""
    };
    let target = redirect_target_for_display(&pending.redirect_uri);
    let mut scopes = String::new();
    for s in &pending.scopes {
        scopes.push_str(&format!("<li><code>{}</code></li>", html_escape(s)));
    }
    let alert = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(m)))
        .unwrap_or_default();
    let main = format!(
        "<h1>Sign in to {service}</h1>\
<p><strong>{name}</strong>{publisher} wants to access <strong>{resource_name}</strong> (<code>{resource}</code>) on your behalf.</p>\
<p>Permissions requested:</p><ul>{scopes}</ul>\
<p>If you allow it, you will be returned to <code>{target}</code>.</p>{loopback_warning}{alert}\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"request_id\" value=\"{id}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
{password}{privy}{upstream}</form>",
        service = html_escape(&config.service_name),
        name = html_escape(name),
        resource_name = html_escape(
            config
                .resource(&pending.resource)
                .map_or(pending.resource.as_str(), |r| r.display_name.as_str())
        ),
        resource = html_escape(&pending.resource),
        target = html_escape(&target),
        action = html_escape(&config.url("/authorize")),
        id = html_escape(&pending.id),
        csrf = html_escape(csrf),
        password = password_section(config, username),
        privy = privy_section(config),
        upstream = upstream_section(config),
    );
    match &config.privy {
        None => html(status, document(config, "Sign in", &main)),
        Some(p) => {
            // Only the SDK script may run; it may talk to (and frame) the
            // Privy API. Validated URLs: no quotes, spaces, `;` or `,`. A
            // CSP source has no query (the script's `?v=` version): the
            // path alone names the script.
            let csp = format!(
                "default-src 'none'; style-src 'unsafe-inline'; script-src {sdk}; \
connect-src {api}; frame-src {api}; base-uri 'none'; frame-ancestors 'none'",
                sdk = p.sdk_url.split(['?', '#']).next().unwrap_or_default(),
                api = p.api_origin(),
            );
            html_with_csp(status, document(config, "Sign in", &main), csp)
        }
    }
}

/// Where a redirect to `uri` takes the browser, as the consent page names
/// it: the host exactly as a browser's URL parser (WHATWG) sees it, so `\`
/// ends the host as `/` does, case is normalised, and an internationalised
/// name is shown in punycode (`xn--pple-43d.example`, not a look-alike of
/// `apple.example`), with the port when it is not the scheme's default;
/// for a private-use scheme, the scheme.
/// `url` brings its IDNA tables, also into device builds: the price of
/// naming the right host.
pub(crate) fn redirect_target_for_display(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) if !host.is_empty() => format!("{host}:{port}"),
            (Some(host), None) if !host.is_empty() => String::from(host),
            _ => String::from(u.scheme()),
        },
        Err(_) => String::from("an address that cannot be parsed"),
    }
}

/// Username, password and the Allow/Deny buttons; without password
/// sign-in, only Deny (every other method allows by signing in).
fn password_section(config: &ServerConfig, username: &str) -> String {
    if !config.password_login {
        return String::from(
            "<div class=\"buttons\"><button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div>",
        );
    }
    format!(
        "<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" value=\"{user}\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\">\
<label for=\"password\">Password</label>\
<input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\">\
<div class=\"buttons\"><button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div>",
        user = html_escape(username),
    )
}

/// One "Continue with …" button per upstream OpenID provider (submit
/// buttons after Allow, so Enter in the password field still means Allow).
fn upstream_section(config: &ServerConfig) -> String {
    let mut out = String::new();
    for p in &config.oidc {
        out.push_str(&format!(
            "<div class=\"buttons\"><button type=\"submit\" name=\"upstream\" value=\"{id}\" id=\"upstream-{id}\">Continue with {name}</button></div>",
            id = html_escape(&p.id),
            name = html_escape(&p.display_name),
        ));
    }
    if !out.is_empty() && (config.password_login || config.privy.is_some()) {
        out.insert_str(0, "<p>or</p>");
    }
    out
}

/// The Privy part of the form (empty without Privy).
fn privy_section(config: &ServerConfig) -> String {
    let Some(p) = &config.privy else {
        return String::new();
    };
    format!(
        "<p>or</p><input type=\"hidden\" name=\"privy_token\" value=\"\">\
<input type=\"hidden\" name=\"privy_id_token\" value=\"\">\
<div class=\"buttons\"><button type=\"button\" id=\"privy-login\">Continue with Privy</button></div>\
<script src=\"{sdk}\"{integrity} data-privy-app-id=\"{app}\" data-privy-api-url=\"{api}\"></script>",
        sdk = html_escape(&p.sdk_url),
        integrity = p
            .sdk_integrity
            .as_deref()
            .map_or(String::new(), |i| format!(
                " integrity=\"{}\" crossorigin=\"anonymous\"",
                html_escape(i)
            )),
        app = html_escape(&p.app_id),
        api = html_escape(&p.api_url),
    )
}
