// How a value of each field type shows in a table cell: dates in the browser's locale, booleans
// as a check or a cross, JSON compact on one line (the full value in a tooltip).
import { h, icon } from "./dom.js";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const number = new Intl.NumberFormat();

export const RELATION_TYPES = new Set(["belongsTo", "hasMany", "hasOne", "belongsToMany"]);
export const NUMBER_TYPES = new Set(["integer", "bigInt", "float", "double", "decimal", "real", "number", "sort"]);
export const DATE_TYPES = new Set(["date", "datetime", "dateOnly", "time", "timestamp", "createdAt", "updatedAt"]);
export const JSON_TYPES = new Set(["json", "jsonb", "array", "object"]);

export function formatDate(value, type = "date") {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return type === "dateOnly" ? dateOnly.format(d) : dateTime.format(d);
}

/** Compact one-line JSON. An address object {name, address} reads as "Name <address>". */
export function compactJson(value) {
  const one = (v) => (v && typeof v === "object" && !Array.isArray(v) && "address" in v && Object.keys(v).every((k) => k === "name" || k === "address")
    ? (v.name ? `${v.name} <${v.address}>` : String(v.address))
    : null);
  if (Array.isArray(value) && value.length && value.every((v) => one(v) !== null)) return value.map(one).join(", ");
  const single = one(value);
  if (single !== null) return single;
  return JSON.stringify(value);
}

/** A table-cell node for `value` of a field {type, ...}. */
export function formatCell(value, field = {}) {
  const type = field.type || "";
  if (value === null || value === undefined || value === "") return h("span", { class: "ec-null" }, "—");
  if (type === "boolean" || typeof value === "boolean") {
    return value
      ? h("span", { class: "ec-bool ec-bool-true", title: "true", "aria-label": "true" }, icon("check"))
      : h("span", { class: "ec-bool ec-bool-false", title: "false", "aria-label": "false" }, icon("x"));
  }
  if (DATE_TYPES.has(type)) return h("time", { datetime: String(value), title: String(value) }, formatDate(value, type));
  if (JSON_TYPES.has(type) || typeof value === "object") {
    const text = compactJson(value);
    return h("code", { class: "ec-json", title: JSON.stringify(value, null, 2) }, text);
  }
  if (NUMBER_TYPES.has(type) && typeof value === "number" && !["id", "bigInt"].includes(field.name) && !field.primaryKey && !/Id$/.test(field.name || "")) {
    return h("span", { class: "ec-num" }, number.format(value));
  }
  if (Array.isArray(field.enum) || field.enum) return h("span", { class: "ec-tag" }, String(value));
  const text = String(value);
  return h("span", { class: "ec-text", title: text.length > 60 ? text : null }, text);
}

/** A column title from a field: its `title`, else "camelCase" → "Camel case". */
export function fieldTitle(field) {
  if (field.title || field.uiSchema?.title) return field.title || field.uiSchema.title;
  const words = String(field.name).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return words === "id" ? "ID" : words.charAt(0).toUpperCase() + words.slice(1).replace(/\bid\b/g, "ID");
}
