// The email center's calls to the server (PROTOCOL.md "Mail actions"), in one place. Each answers
// the answer's `data` (or what the caller needs of it) and rejects with the shell's ApiError.

export function mailApi(api) {
  const post = (action, body, opts) => api.post(action, body, opts);
  const data = (r) => r.data;
  return {
    accounts: (opts) => api.get("mailAccounts:list", { paginate: false }, opts).then((r) => r.data || []),
    createAccount: (values) => post("mailAccounts:create", values).then(data),
    /** The provider's sign-in URL; with `accountId`, a re-link of that account; `syncSince` (a date)
     * for the account it creates. */
    link: (provider, accountId, syncSince) => post("mailAccounts:link", {
      provider, ...(accountId ? { accountId } : {}), ...(syncSince ? { syncSince } : {}),
    }).then((r) => r.data.authorizationUrl),
    sync: (id) => post("mailAccounts:sync", { filterByTk: id, wait: true }).then(data),
    /** Sync again from scratch (labels, to-dos and notes stay); answers when done. */
    resync: (id) => post("mailAccounts:resync", { filterByTk: id }).then(data),
    deleteAccount: (id) => post("mailAccounts:destroy", { filterByTk: id }),
    /** New values for an account (an IMAP account's new password is checked by the server first). */
    updateAccount: (id, values) => post("mailAccounts:update", values, { params: { filterByTk: id } }).then(data),

    threads: ({ filter, search, page, pageSize }, opts) =>
      api.get("mailMessages:listThreads", { filter, search: search || undefined, page, pageSize }, opts),
    thread: (threadId, opts) => api.get("mailMessages:getThread", { threadId }, opts).then(data),
    /** Every message id (with read state and type) of these conversations. */
    messagesOf: (threadIds, opts) => api.get("mailMessages:list", {
      filter: { threadId: { $in: threadIds } }, fields: ["id", "threadId", "read", "type", "accountId", "folderId"], paginate: false,
    }, opts).then((r) => r.data || []),
    /** How many messages match `filter` (one row fetched; the count is in meta). */
    count: (filter, opts) => api.get("mailMessages:list", { filter, pageSize: 1, fields: ["id"] }, opts)
      .then((r) => r.meta?.count ?? 0),
    markRead: (ids) => post("mailMessages:markRead", { filterByTk: ids }),
    markUnread: (ids) => post("mailMessages:markUnread", { filterByTk: ids }),
    destroy: (ids) => post("mailMessages:destroy", { filterByTk: ids }),
    /** To a folder: a mailFolders id, or a type ("archive", "inbox", …) each message's account has. */
    move: (ids, folder) => post("mailMessages:move", { filterByTk: ids, folder }).then(data),
    /** The folders of these accounts, by name. */
    folders: (accountIds) => api.get("mailFolders:list", {
      filter: { accountId: { $in: accountIds } }, paginate: false, sort: "name",
    }).then((r) => r.data || []),
    /** flagged / read (reach the server), todo / labels (the person's own marks). */
    updateMessage: (id, values) => post("mailMessages:update", values, { params: { filterByTk: id } }).then(data),

    prepareReply: (id, all) => post("mailMessages:prepareReply", { filterByTk: id, all: !!all }).then(data),
    prepareForward: (id) => post("mailMessages:prepareForward", { filterByTk: id }).then(data),
    saveDraft: (payload) => post("mailMessages:saveDraft", payload).then(data),
    /** A scheduled (or held, or interrupted) send back to a draft; resend: an interrupted one again. */
    cancelSend: (id) => post("mailMessages:cancelSend", { filterByTk: id }).then(data),
    resend: (id) => post("mailMessages:resend", { filterByTk: id }).then(data),
    message: (id, opts) => api.get("mailMessages:get", { filterByTk: id }, opts).then(data),
    userSettings: () => api.get("mailUserSettings:get", {}).then(data),
    saveUserSettings: (values) => post("mailUserSettings:update", values).then(data),
    /** The person's signatures and templates, for compose (failing quietly: compose works without). */
    signatures: () => api.get("mailSignatures:list", { paginate: false }).then((r) => r.data || []).catch(() => []),
    templates: () => api.get("mailTemplates:list", { paginate: false, sort: "name" }).then((r) => r.data || []).catch(() => []),
    /** Send as: the identities of the person's accounts (compose lists them under their account). */
    identities: () => api.get("mailIdentities:list", { paginate: false }).then((r) => r.data || []).catch(() => []),
    createIdentity: (values) => post("mailIdentities:create", values).then(data),
    deleteIdentity: (id) => post("mailIdentities:destroy", {}, { params: { filterByTk: id } }),
  };
}
