// mcpauth's sign-in page ↔ Privy, built on Privy's own SDK
// (@privy-io/js-sdk-core, pinned in package.json / package-lock.json).
//
// The page (core/src/oauth/pages.rs) has, inside the consent form:
//   <input type="hidden" name="privy_token"> <input type="hidden" name="privy_id_token">
//   <button type="button" id="privy-login">Continue with Privy</button>
//   <script src="/privy/glue.js" data-privy-app-id="…" data-privy-api-url="…">
// "Continue with Privy" opens a small panel: email → one-time code, or, when
// the browser has an Ethereum wallet, "Sign in with a wallet" (SIWE). On
// success the Privy access token (and identity token) go into the hidden
// fields and the form is submitted with decision=allow; the server verifies
// the token (ES256, iss privy.io, aud = app id) and the grant's subject is
// the Privy DID.
//
// Privy's session is kept in memory only (InMemoryCache, no cookies): it
// ends with this page, nothing of it is left on the server's origin. No
// token is ever logged.
//
// Rebuild: scripts/build-privy.sh (npm ci + esbuild → dist/glue.js).

import Privy, { InMemoryCache } from "@privy-io/js-sdk-core";

const script = document.currentScript;
const appId = script && script.dataset.privyAppId;
const apiUrl = script && script.dataset.privyApiUrl;
const button = document.getElementById("privy-login");
const form = button && button.form;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

/// A message for the user: Privy's own error text when it has one (never a
/// token: errors of this SDK carry a message and a code only).
function describe(err) {
  if (err && typeof err === "object") {
    if (typeof err.error === "string" && err.error) return err.error;
    if (typeof err.message === "string" && err.message) return err.message;
  }
  return "Privy sign-in failed.";
}

if (appId && form) {
  let privy = null;
  const client = () => {
    if (!privy) {
      const options = {
        appId,
        storage: new InMemoryCache(),
        sessions: { cookieWriteBehavior: "never" },
      };
      // The Privy API the SDK talks to (the server's --privy-api-url, also
      // in the page's CSP connect-src). Privy's constructor honours baseUrl.
      if (apiUrl) options.baseUrl = apiUrl.replace(/\/+$/, "");
      privy = new Privy(options);
    }
    return privy;
  };

  const panel = el("div", { id: "privy-panel", hidden: "" });
  const status = el("p", { id: "privy-status", role: "alert", class: "error" });
  status.hidden = true;
  const emailLabel = el("label", { for: "privy-email" }, "Email");
  const email = el("input", {
    id: "privy-email",
    type: "email",
    autocomplete: "email",
    autocapitalize: "none",
    spellcheck: "false",
  });
  const sendCode = el("button", { type: "button", id: "privy-send-code" }, "Send code");
  const codeLabel = el("label", { for: "privy-code" }, "Code from the email");
  const code = el("input", {
    id: "privy-code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: "16",
  });
  const verify = el("button", { type: "button", id: "privy-verify" }, "Sign in");
  const codeRow = el("div", { id: "privy-code-row", hidden: "" });
  codeRow.append(codeLabel, code, el("div", { class: "buttons" }));
  codeRow.lastChild.append(verify);
  const sendRow = el("div", { class: "buttons" });
  sendRow.append(sendCode);
  panel.append(emailLabel, email, sendRow, codeRow);
  let wallet = null;
  if (window.ethereum && typeof window.ethereum.request === "function") {
    wallet = el("button", { type: "button", id: "privy-wallet" }, "Sign in with a wallet");
    const row = el("div", { class: "buttons" });
    row.append(wallet);
    panel.append(el("p", {}, "or"), row);
  }
  panel.append(status);
  button.closest(".buttons").after(panel);

  const show = (message) => {
    status.textContent = message;
    status.hidden = !message;
  };
  const busy = (on) => {
    for (const b of [button, sendCode, verify, wallet]) if (b) b.disabled = on;
  };

  // The tokens into the form, and submit it as an "allow".
  const finish = async () => {
    const p = client();
    const token = await p.getAccessToken();
    if (!token) throw new Error("Privy returned no access token.");
    form.elements.privy_token.value = token;
    const identity = await p.getIdentityToken();
    if (identity && form.elements.privy_id_token) {
      form.elements.privy_id_token.value = identity;
    }
    const decision = el("input", { type: "hidden", name: "decision", value: "allow" });
    form.append(decision);
    submitted = true;
    form.submit();
  };

  // One action at a time; the buttons stay off once the form is submitted.
  let submitted = false;
  const run = (work) => async () => {
    busy(true);
    show("");
    try {
      await work();
    } catch (err) {
      show(describe(err));
    } finally {
      if (!submitted) busy(false);
    }
  };

  button.addEventListener(
    "click",
    run(async () => {
      panel.hidden = false;
      email.focus();
      await client().initialize();
    }),
  );

  sendCode.addEventListener(
    "click",
    run(async () => {
      const address = email.value.trim();
      if (!address) throw new Error("Enter your email address.");
      await client().auth.email.sendCode(address);
      codeRow.hidden = false;
      show("");
      code.focus();
    }),
  );

  verify.addEventListener(
    "click",
    run(async () => {
      const address = email.value.trim();
      const otp = code.value.trim();
      if (!address || !otp) throw new Error("Enter the code from the email.");
      await client().auth.email.loginWithCode(address, otp);
      await finish();
    }),
  );

  // Enter in the email or code field acts on the panel, not the password form.
  email.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      sendCode.click();
    }
  });
  code.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      verify.click();
    }
  });

  if (wallet) {
    wallet.addEventListener(
      "click",
      run(async () => {
        const eth = window.ethereum;
        const [address] = await eth.request({ method: "eth_requestAccounts" });
        if (!address) throw new Error("The wallet shared no account.");
        const chainHex = await eth.request({ method: "eth_chainId" });
        const w = {
          address,
          chainId: `eip155:${parseInt(chainHex, 16)}`,
          walletClientType: "unknown",
          connectorType: "injected",
        };
        const p = client();
        const { message } = await p.auth.siwe.init(w, location.host, location.origin);
        const signature = await eth.request({
          method: "personal_sign",
          params: [message, address],
        });
        await p.auth.siwe.loginWithSiwe(signature, w, message);
        await finish();
      }),
    );
  }
}
