// How mail values read on the page: list dates, full dates, sizes, addresses, participants.

const time = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const monthDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const fullDay = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });
const full = new Intl.DateTimeFormat(undefined, { weekday: "short", year: "numeric", month: "short", day: "numeric",
  hour: "numeric", minute: "2-digit" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function parse(value) {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The list's date: a time today, "Mar 3" this year, else "Mar 3, 2024". */
export function listDate(value, now = new Date()) {
  const d = parse(value);
  if (!d) return "";
  if (d.toDateString() === now.toDateString()) return time.format(d);
  if (d.getFullYear() === now.getFullYear()) return monthDay.format(d);
  return fullDay.format(d);
}

/** The reader's date: "Mon, Mar 3, 2025, 2:05 PM". */
export function fullDate(value) {
  const d = parse(value);
  return d ? full.format(d) : "";
}

/** "just now", "5 minutes ago", "yesterday", … */
export function ago(value, now = Date.now()) {
  const d = parse(value);
  if (!d) return "never";
  const s = Math.round((d.getTime() - now) / 1000);
  const steps = [[60, "second"], [3600, "minute", 60], [86400, "hour", 3600], [604800, "day", 86400]];
  if (Math.abs(s) < 45) return "just now";
  for (const [limit, unit, div = 1] of steps) {
    if (Math.abs(s) < limit) return relative.format(Math.round(s / div), unit);
  }
  return fullDay.format(d);
}

/** 1536 → "1.5 KB" (binary units, as the server's limits are in MiB). */
export function size(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export const MIB = 1024 * 1024;

/** {name, address} → "Name <address>" (or the bare address). */
export function addressText(a) {
  if (!a) return "";
  if (typeof a === "string") return a;
  return a.name ? `${a.name} <${a.address}>` : a.address || "";
}

/** {name, address} → what a person calls them: the name, else the address. */
export function displayName(a, own = new Set()) {
  if (!a) return "";
  if (own.has(String(a.address || "").toLowerCase())) return "me";
  return a.name || a.address || "";
}

/** A conversation's people as the list shows them: "Bob Builder, me". */
export function participantsText(participants = [], own = new Set()) {
  const names = participants.map((p) => displayName(p, own)).filter(Boolean);
  if (!names.length) return "(no sender)";
  if (names.length === 1) return names[0];
  // several people: first names keep the column readable
  const short = names.map((n) => (n === "me" || n.includes("@") ? n : n.split(/\s+/)[0]));
  return [...new Set(short)].join(", ");
}

export const FOLDERS = [
  { type: "inbox", title: "Inbox", icon: "inbox" },
  { type: "sent", title: "Sent", icon: "send" },
  { type: "drafts", title: "Drafts", icon: "pencil" },
  { type: "scheduled", title: "Scheduled", icon: "clock" },
  { type: "archive", title: "Archive", icon: "archive" },
  { type: "junk", title: "Junk", icon: "ban" },
  { type: "trash", title: "Trash", icon: "trash" },
];

export const TYPE_TITLES = { inbox: "Inbox", sent: "Sent", drafts: "Draft", archive: "Archive", junk: "Junk",
  trash: "Trash", other: "Other", scheduled: "Scheduled" };

/** A loose check of one address ("a@b.c" or "Name <a@b.c>"); answers {name, address} or null. */
export function parseAddress(raw) {
  const s = String(raw || "").trim().replace(/[,;]+$/, "");
  if (!s) return null;
  const m = s.match(/^(?:"?([^"<]*?)"?\s*)?<([^<>\s]+)>$/);
  const name = m ? (m[1] || "").trim() : "";
  const address = (m ? m[2] : s).trim();
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]{2,}$/.test(address)) return null;
  return { name, address };
}
