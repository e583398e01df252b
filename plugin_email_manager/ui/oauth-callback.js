// The page the OAuth provider sends the person back to (mailAccounts:oauthCallback): it follows
// the first sync of the account just linked, tells the window that opened it, and closes itself.
// A file of its own, not inline script: the page's Content-Security-Policy allows none.
const status = document.getElementById("status");
const id = Number(document.querySelector("main").dataset.accountId);

async function poll() {
  try {
    const r = await fetch(`/api/mailAccounts:get?filterByTk=${id}`, { credentials: "same-origin" });
    if (r.ok) {
      const a = (await r.json()).data;
      const fetched = (a.progress && a.progress.fetched) || 0;
      if (a.status === "ready") {
        status.textContent = `Done: ${fetched} messages synced. This window closes itself.`;
        if (window.opener) window.opener.postMessage({ type: "mail-account-linked", accountId: id }, location.origin);
        setTimeout(() => window.close(), 800);
        return;
      }
      if (a.status === "error") { status.textContent = `The sync failed: ${a.error}`; return; }
      status.textContent = `Syncing… ${fetched} messages so far.`;
    }
  } catch { /* the next poll tries again */ }
  setTimeout(poll, 700);
}

if (Number.isInteger(id)) poll();
