// The one sign-in form of both pages: paste a token, and the page starts once it is a token the page can use.
import { h, show } from "./dom";
import { sessionFrom, SessionStore, type Session } from "./session";

export interface SignIn {
  title: string;
  label: string;
  /** The command that mints a suitable token, shown as the hint. */
  command: string;
  hint: string;
  /** Said when the pasted text is not a token this page accepts. */
  refusal: string;
  store: SessionStore;
  accepts: (session: Session) => boolean;
  start: (session: Session) => void;
}

export function signInView(app: HTMLElement, form: SignIn, error = ""): void {
  const input = h("textarea", { id: "bearer", rows: 4, autocomplete: "off", spellcheck: "false", required: true });
  const submit = (event: Event) => {
    event.preventDefault();
    const session = sessionFrom(input.value);
    if (!session || !form.accepts(session)) return signInView(app, form, form.refusal);
    form.store.save(session);
    form.start(session);
  };
  show(
    app,
    h(
      "main",
      { class: "narrow", id: "main" },
      h("h1", {}, form.title),
      h(
        "form",
        { class: "card", onsubmit: submit },
        h("label", { for: "bearer" }, form.label),
        input,
        h("p", { class: "muted" }, "터미널에서 ", h("code", {}, form.command), form.hint),
        error ? h("p", { class: "notice error", role: "alert" }, error) : null,
        h("button", { class: "primary", type: "submit" }, "시작하기"),
      ),
    ),
  );
  input.focus();
}
