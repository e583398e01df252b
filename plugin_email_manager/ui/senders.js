// Send as: who a message may be from. Every account, each followed by its identities
// (mailIdentities); `from` is the address the server checks (mailMessages:send, sendBatch).

/** [{accountId, from, label}] of these accounts and identities, in that order. */
export function senders(accounts, identities) {
  return accounts.flatMap((a) => [
    { accountId: a.id, from: a.email, label: a.displayName ? `${a.displayName} <${a.email}>` : a.email },
    ...identities.filter((i) => i.accountId === a.id)
      .map((i) => ({ accountId: a.id, from: i.email, label: i.name ? `${i.name} <${i.email}>` : i.email })),
  ]);
}
