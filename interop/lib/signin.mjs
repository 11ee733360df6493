// Walk mcpauth's sign-in + consent page the way an HTML form post does:
// GET the authorization URL, read the hidden fields and the anti-CSRF cookie,
// POST the documented fields (username, password, decision), and return the
// redirect (Location) the server answers with. No JavaScript, no shortcuts.

function unescapeHtml(s) {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#x27;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/** Every `<input type="hidden" name=… value=…>` of the first form. */
export function hiddenFields(html) {
  const fields = {};
  for (const m of html.matchAll(/<input\b[^>]*>/gi)) {
    const tag = m[0];
    if (!/type="hidden"/i.test(tag)) continue;
    const name = tag.match(/\bname="([^"]*)"/i);
    const value = tag.match(/\bvalue="([^"]*)"/i);
    if (name) fields[unescapeHtml(name[1])] = value ? unescapeHtml(value[1]) : '';
  }
  return fields;
}

function formAction(html, pageUrl) {
  const m = html.match(/<form\b[^>]*\baction="([^"]*)"/i);
  return new URL(m ? unescapeHtml(m[1]) : '/authorize', pageUrl).toString();
}

/**
 * Complete the authorization step for `authorizeUrl` as `username`.
 * Returns the Location the server redirects to (the client's redirect_uri
 * with `code` or `error`).
 */
export async function signIn(authorizeUrl, { username, password, decision = 'allow', timeoutMs = 30000 }) {
  const signal = AbortSignal.timeout(timeoutMs);
  const page = await fetch(authorizeUrl, { redirect: 'manual', signal });
  const html = await page.text();
  if (page.status !== 200) {
    throw new Error(`GET authorize: HTTP ${page.status}: ${html.slice(0, 300)}`);
  }
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const body = new URLSearchParams({ ...hiddenFields(html), username, password, decision });
  const post = await fetch(formAction(html, authorizeUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body,
    signal,
  });
  const location = post.headers.get('location');
  if (post.status < 300 || post.status > 399 || !location) {
    const text = await post.text();
    throw new Error(`POST authorize: HTTP ${post.status}: ${text.slice(0, 300)}`);
  }
  return new URL(location, authorizeUrl).toString();
}
