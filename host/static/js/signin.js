// /signin: posts the form to auth:signIn, keeps the token, and goes to ?next= (a path on this
// site only) or /admin. A 401 shows the server's message above the form.
import { request, safeNext, setToken } from "./api.js";
import { h, icon } from "./dom.js";

const form = document.getElementById("signin-form");
const error = document.getElementById("signin-error");
const submit = document.getElementById("signin-submit");
const next = safeNext(new URLSearchParams(location.search).get("next"));

function showError(message) {
  error.replaceChildren(icon("alert"), h("span", {}, message));
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) {
    showError(!email ? "Please enter your email." : "Please enter your password.");
    (!email ? form.email : form.password).focus();
    return;
  }
  submit.disabled = true;
  submit.replaceChildren(h("span", { class: "ec-spinner", "aria-hidden": "true" }), "Signing in…");
  try {
    const res = await request("POST", "auth:signIn", { body: { email, password } });
    setToken(res.data?.token);
    location.assign(next);
  } catch (err) {
    showError(err.status === 401 ? (err.message && !err.message.startsWith("Request failed") ? err.message : "Wrong email or password.") : err.message);
    form.password.select();
    submit.disabled = false;
    submit.replaceChildren("Sign in");
  }
});
