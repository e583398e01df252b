// Which NocoBase filter operators fit which field type, and how the filter bar's conditions
// become NocoBase filter JSON ({"$and": [{"field": {"$op": value}}, ...]}).
import { DATE_TYPES, JSON_TYPES, NUMBER_TYPES, RELATION_TYPES } from "./format.js";

// value: "text" | "number" | "date" | "dates" (two) | "list" (comma separated) | "enum" | null (none)
const OP = {
  $includes: { label: "contains", value: "text" },
  $notIncludes: { label: "does not contain", value: "text" },
  $eq: { label: "is", value: "text" },
  $ne: { label: "is not", value: "text" },
  $startsWith: { label: "starts with", value: "text" },
  $endWith: { label: "ends with", value: "text" },
  $in: { label: "is any of", value: "list" },
  $notIn: { label: "is none of", value: "list" },
  $gt: { label: ">", value: "number" },
  $gte: { label: "≥", value: "number" },
  $lt: { label: "<", value: "number" },
  $lte: { label: "≤", value: "number" },
  $dateOn: { label: "is on", value: "date" },
  $dateBefore: { label: "is before", value: "date" },
  $dateAfter: { label: "is after", value: "date" },
  $dateBetween: { label: "is between", value: "dates" },
  $isTruly: { label: "is yes", value: null },
  $isFalsy: { label: "is no", value: null },
  $empty: { label: "is empty", value: null },
  $notEmpty: { label: "is not empty", value: null },
};

/** The fields a filter can use: scalar ones (relations and binary data have no simple value). */
export function filterableFields(fields) {
  return fields.filter((f) => !RELATION_TYPES.has(f.type) && f.type !== "binary" && !f.hidden);
}

/** [{op, label, value}] valid for `field`, the first being the default. */
export function operatorsFor(field) {
  const t = field?.type || "string";
  let ops;
  if (field?.enum) ops = ["$eq", "$ne", "$in", "$notIn", "$empty", "$notEmpty"];
  else if (t === "boolean") ops = ["$isTruly", "$isFalsy"];
  else if (NUMBER_TYPES.has(t)) ops = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$empty", "$notEmpty"];
  else if (DATE_TYPES.has(t)) ops = ["$dateOn", "$dateBefore", "$dateAfter", "$dateBetween", "$empty", "$notEmpty"];
  else if (JSON_TYPES.has(t)) ops = ["$empty", "$notEmpty"];
  else ops = ["$includes", "$notIncludes", "$eq", "$ne", "$startsWith", "$endWith", "$empty", "$notEmpty"];
  return ops.map((op) => {
    let value = OP[op].value;
    if (field?.enum && (op === "$eq" || op === "$ne")) value = "enum";
    if (NUMBER_TYPES.has(t) && (op === "$eq" || op === "$ne")) value = "number";
    return { op, label: OP[op].label, value };
  });
}

export function operatorInfo(field, op) {
  return operatorsFor(field).find((o) => o.op === op) || operatorsFor(field)[0];
}

function cast(field, raw) {
  if (NUMBER_TYPES.has(field.type)) {
    const n = Number(raw);
    return raw !== "" && Number.isFinite(n) ? n : raw;
  }
  return raw;
}

/** Whether a condition {field, op, value} is complete enough to send. */
export function isComplete(field, cond) {
  const info = operatorInfo(field, cond.op);
  if (!info.value) return true;
  if (info.value === "dates") return Array.isArray(cond.value) && cond.value[0] && cond.value[1];
  return cond.value !== undefined && cond.value !== null && String(cond.value).trim() !== "";
}

/** One condition as NocoBase filter JSON, or null when incomplete. */
export function conditionToFilter(field, cond) {
  if (!field || !isComplete(field, cond)) return null;
  const info = operatorInfo(field, cond.op);
  let value;
  switch (info.value) {
    case null: value = true; break;
    case "list": value = String(cond.value).split(",").map((s) => s.trim()).filter(Boolean).map((s) => cast(field, s)); break;
    case "dates": value = [cond.value[0], cond.value[1]]; break;
    case "number": value = cast(field, String(cond.value).trim()); break;
    default: value = String(cond.value);
  }
  return { [field.name]: { [info.op]: value } };
}

/** Conditions (ANDed) → filter JSON, or null when none is complete. */
export function buildFilter(fields, conditions) {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const parts = conditions.map((c) => conditionToFilter(byName.get(c.field), c)).filter(Boolean);
  return parts.length ? { $and: parts } : null;
}

/** Filter JSON made by buildFilter → conditions again (so a URL restores the filter bar). */
export function parseFilter(filter) {
  const parts = filter?.$and || (filter ? [filter] : []);
  const out = [];
  for (const part of parts) {
    for (const [field, cond] of Object.entries(part || {})) {
      if (field.startsWith("$") || !cond || typeof cond !== "object") continue;
      for (const [op, value] of Object.entries(cond)) {
        out.push({ field, op, value: Array.isArray(value) && !["$dateBetween"].includes(op) ? value.join(", ") : value === true && OP[op]?.value === null ? null : value });
      }
    }
  }
  return out;
}
