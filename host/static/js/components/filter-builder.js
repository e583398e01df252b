// <ec-filter-builder>: rows of "field · operator · value", ANDed. Set `fields` (the collection's
// fields) and optionally `conditions`; "Apply" (or Enter) fires "filter-change" with
// {filter: <NocoBase filter JSON or null>, conditions} in `detail`.
import { h, icon } from "../dom.js";
import { fieldTitle } from "../format.js";
import { buildFilter, filterableFields, isComplete, operatorInfo, operatorsFor } from "../filters.js";

class EcFilterBuilder extends HTMLElement {
  constructor() {
    super();
    this._fields = [];
    this._conditions = [];
  }

  set fields(fields) { this._fields = filterableFields(fields || []); this.render(); }
  get fields() { return this._fields; }

  set conditions(list) { this._conditions = (list || []).map((c) => ({ ...c })); this.render(); }
  get conditions() { return this._conditions; }

  field(name) { return this._fields.find((f) => f.name === name); }

  add() {
    const field = this._fields.find((f) => ["string", "text"].includes(f.type)) || this._fields.find((f) => f.name !== "id") || this._fields[0];
    if (!field) return;
    this._conditions.push({ field: field.name, op: operatorsFor(field)[0].op, value: "" });
    this.render();
    this.querySelector(".ec-filter-row:last-child .ec-filter-value input, .ec-filter-row:last-child .ec-filter-field")?.focus();
  }

  apply() {
    const complete = this._conditions.filter((c) => isComplete(this.field(c.field), c));
    this.dispatchEvent(new CustomEvent("filter-change", {
      bubbles: true, detail: { filter: buildFilter(this._fields, complete), conditions: complete },
    }));
  }

  valueInput(cond, field) {
    const info = operatorInfo(field, cond.op);
    const onKey = (e) => { if (e.key === "Enter") { e.preventDefault(); this.apply(); } };
    const set = (v) => { cond.value = v; };
    if (!info.value) return null;
    if (info.value === "enum") {
      if (!cond.value) cond.value = field.enum[0];
      return h("select", { class: "ec-select", "aria-label": "Value", onchange: (e) => set(e.target.value) },
        field.enum.map((v) => h("option", { value: v, selected: v === cond.value }, v)));
    }
    if (info.value === "dates") {
      const pair = Array.isArray(cond.value) ? cond.value : ["", ""];
      cond.value = pair;
      return [0, 1].map((i) => h("input", {
        class: "ec-input", type: "date", value: pair[i] || "", "aria-label": i ? "To" : "From",
        oninput: (e) => { pair[i] = e.target.value; }, onkeydown: onKey,
      }));
    }
    const type = { number: "number", date: "date" }[info.value] || "text";
    return h("input", {
      class: "ec-input", type, step: type === "number" ? "any" : null, value: cond.value ?? "",
      placeholder: info.value === "list" ? "a, b, c" : "Value", "aria-label": "Value",
      oninput: (e) => set(e.target.value), onkeydown: onKey,
    });
  }

  row(cond, index) {
    const field = this.field(cond.field) || this._fields[0];
    return h("div", { class: "ec-filter-row", role: "group", "aria-label": `Condition ${index + 1}` },
      h("span", { class: "ec-filter-join" }, index ? "and" : "where"),
      h("select", {
        class: "ec-select ec-filter-field", "aria-label": "Field",
        onchange: (e) => {
          cond.field = e.target.value;
          cond.op = operatorsFor(this.field(cond.field))[0].op;
          cond.value = "";
          this.render();
        },
      }, this._fields.map((f) => h("option", { value: f.name, selected: f.name === field.name }, fieldTitle(f)))),
      h("select", {
        class: "ec-select ec-filter-op", "aria-label": "Operator",
        onchange: (e) => {
          const before = operatorInfo(field, cond.op).value;
          cond.op = e.target.value;
          if (operatorInfo(field, cond.op).value !== before) cond.value = "";
          this.render();
        },
      }, operatorsFor(field).map((o) => h("option", { value: o.op, selected: o.op === cond.op }, o.label))),
      h("span", { class: "ec-filter-value" }, this.valueInput(cond, field)),
      h("button", {
        class: "ec-btn ec-btn-text ec-btn-icon", type: "button", "aria-label": "Remove condition",
        onclick: () => { this._conditions.splice(index, 1); this.render(); this.apply(); },
      }, icon("trash")));
  }

  render() {
    this.classList.add("ec-filter");
    const has = this._conditions.length > 0;
    this.replaceChildren(...[
      has && h("div", { class: "ec-filter-rows" }, this._conditions.map((c, i) => this.row(c, i))),
      h("div", { class: "ec-filter-actions" },
        h("button", { class: "ec-btn", type: "button", onclick: () => this.add(), disabled: !this._fields.length },
          icon(has ? "plus" : "filter"), has ? "Add condition" : "Filter"),
        has && h("button", { class: "ec-btn ec-btn-primary", type: "button", onclick: () => this.apply() }, "Apply"),
        has && h("button", {
          class: "ec-btn ec-btn-text", type: "button",
          onclick: () => { this._conditions = []; this.render(); this.apply(); },
        }, "Reset")),
    ].filter(Boolean));
  }
}

customElements.define("ec-filter-builder", EcFilterBuilder);
export default EcFilterBuilder;
