// The prepaid wallet: its balance, and charging it from the page.
import { api, call, messageOf } from "../shared/api";
import { announce, h, notice, won } from "../shared/dom";
import type { FanContext } from "./context";

export function walletPanel(ctx: FanContext): { element: HTMLElement; refresh(): Promise<void> } {
  const balance = h("p", { class: "figure", id: "wallet-balance" }, "…");
  const amount = h("input", { id: "charge-amount", type: "number", min: 1, max: 100_000_000, step: 1, value: 100000, inputmode: "numeric" });
  const alerts = h("div");
  const wallet = api.users({ userId: ctx.session.userId }).wallet;

  const refresh = async () => {
    try {
      balance.textContent = won((await call(wallet.get({ headers: ctx.headers() }))).data.balance);
    } catch (error) {
      notice(alerts, messageOf(error));
    }
  };

  const charge = async (event: Event) => {
    event.preventDefault();
    notice(alerts, "");
    try {
      const after = (await call(wallet.charge.patch({ amount: Number(amount.value) }, { headers: ctx.headers() }))).data.balance;
      balance.textContent = won(after);
      announce(`충전했습니다. 잔액 ${won(after)}`);
    } catch (error) {
      notice(alerts, messageOf(error));
    }
  };

  const element = h(
    "section",
    { class: "card", "aria-labelledby": "wallet-title" },
    h("h2", { id: "wallet-title" }, "내 지갑"),
    balance,
    h(
      "form",
      { class: "inline", onsubmit: charge },
      h("label", { for: "charge-amount" }, "충전 금액 (원)"),
      amount,
      h("button", { class: "secondary", type: "submit" }, "충전"),
    ),
    alerts,
  );
  void refresh();
  return { element, refresh };
}
