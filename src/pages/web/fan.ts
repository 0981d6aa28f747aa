// The fans' pages at `/`: sign in with a token, the concerts, the waiting room, the seat map and checkout of an event,
// and the buyer's tickets. One page; views change with the address's hash, so the back button and a reload work and
// nothing is fetched but the JSON API.
import "./shared/styles.css";
import { h, show } from "./shared/dom";
import { SessionStore, sessionFrom, tokenFromAddress, type Session } from "./shared/session";
import { signInView, type SignIn } from "./shared/sign-in";
import { concertEvents, concerts } from "./fan/concerts";
import { QueueTokens, type Dispose, type FanContext } from "./fan/context";
import { eventSale } from "./fan/event-sale";
import { tickets } from "./fan/tickets";
import { waitingRoom } from "./fan/waiting-room";
import { walletPanel } from "./fan/wallet";

const sessions = new SessionStore("rsv.fan.bearer");
const app = document.getElementById("app")!;
let dispose: Dispose = () => {};

function signIn(): Session | undefined {
  const given = tokenFromAddress();
  const session = given ? sessionFrom(given) : undefined;
  if (session) sessions.save(session);
  return session ?? sessions.load();
}

const signInForm: SignIn = {
  title: "콘서트 예매",
  label: "인증 토큰",
  command: "npm run -s token 42",
  hint: " 로 사용자 42의 토큰을 만들 수 있습니다.",
  refusal: "토큰이 올바르지 않거나 만료되었습니다.",
  store: sessions,
  accepts: () => true,
  start: (session) => start(session),
};
const loginView = () => signInView(app, signInForm);

function start(session: Session): void {
  const main = h("main", { id: "main", tabindex: -1 });
  const ctx: FanContext = {
    session,
    headers: (queueToken) => ({ authorization: session.bearer, ...(queueToken && { "user-token": queueToken }) }),
    tokens: new QueueTokens(session.userId),
    go: (hash) => (location.hash = hash),
    refreshWallet: () => void wallet.refresh(),
  };
  const wallet = walletPanel(ctx);
  const signOut = () => {
    sessions.clear();
    dispose();
    loginView();
  };
  show(
    app,
    h("a", { class: "skip", href: "#main", onclick: (e: Event) => (e.preventDefault(), main.focus()) }, "본문으로 건너뛰기"),
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "#/" }, "콘서트 예매"),
      h("nav", { "aria-label": "주 메뉴" }, h("a", { href: "#/" }, "공연 목록"), h("a", { href: "#/tickets" }, "내 티켓")),
      h("span", { class: "muted" }, `사용자 ${session.userId}`),
      h("button", { class: "secondary", onclick: signOut }, "로그아웃"),
    ),
    h("div", { class: "page" }, main, h("aside", { class: "side" }, wallet.element)),
  );
  const route = () => {
    dispose();
    const hash = location.hash;
    let match: RegExpExecArray | null;
    if ((match = /^#\/queue\/(\d+)$/.exec(hash))) dispose = waitingRoom(ctx, main, Number(match[1]));
    else if ((match = /^#\/concert\/(\d+)\/events$/.exec(hash))) dispose = concertEvents(ctx, main, Number(match[1]));
    else if ((match = /^#\/event\/(\d+)\/(\d+)$/.exec(hash))) dispose = eventSale(ctx, main, Number(match[1]), Number(match[2]));
    else if (hash === "#/tickets") dispose = tickets(ctx, main);
    else dispose = concerts(ctx, main);
  };
  window.onhashchange = route;
  route();
}

const session = signIn();
if (session) start(session);
else loginView();
