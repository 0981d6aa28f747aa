// The waiting room: the place in a concert's queue, pushed by the service (SSE), with the estimated wait and a
// progress bar; before the opening, a countdown to the draw. A reload or a restart of the service finds the same
// place: the token is kept in the browser and the stream reconnects by itself. On admission the seat selection
// follows at once, without a reload.
import { api, call, messageOf, PageError } from "../shared/api";
import { announce, clock, h, notice, roughly, show } from "../shared/dom";
import { LiveStream } from "../shared/live-stream";
import type { Dispose, FanContext } from "./context";

interface Status {
  queuePosition: number;
  estimatedWaitingTime: number;
  status: "WAITING" | "ACTIVE";
  opensAt?: string;
}

const LOST_CODES = new Set(["not_found_in_queue", "invalid_token"]);

export function waitingRoom(ctx: FanContext, main: HTMLElement, concertId: number): Dispose {
  const position = h("p", { class: "figure", id: "queue-position" }, "확인 중…");
  const estimate = h("p", { id: "queue-estimate" });
  const bar = h("progress", { id: "queue-progress", max: 100, value: 0, "aria-labelledby": "queue-progress-label" });
  const opening = h("p", { id: "queue-opening" });
  const connection = h("p", { id: "queue-connection", class: "muted", role: "status" });
  const messages = h("div");
  show(
    main,
    h("h1", {}, "대기실"),
    h(
      "section",
      { class: "card waiting", "aria-labelledby": "queue-position-label" },
      h("h2", { id: "queue-position-label" }, "내 대기 순서"),
      position,
      estimate,
      h("p", { id: "queue-progress-label", class: "muted" }, "입장까지 진행률"),
      bar,
      opening,
      connection,
    ),
    messages,
    h("p", { class: "muted" }, "이 창을 닫거나 새로고침해도 순서는 그대로입니다. 차례가 되면 좌석 선택 화면으로 바로 넘어갑니다."),
  );

  let stream: LiveStream | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let firstPosition = 0;
  let disposed = false;
  let lastAnnounced = 0;

  const admitted = () => {
    stream?.close();
    announce("입장 차례가 되었습니다. 회차를 선택하세요.");
    ctx.go(`#/concert/${concertId}/events`);
  };

  const lost = (error: unknown) => {
    ctx.tokens.forget(concertId);
    stream?.close();
    show(messages, h("p", { class: "notice error", role: "alert" }, messageOf(error)), h("button", { class: "primary", onclick: () => enter() }, "대기열에 다시 들어가기"));
  };

  const render = (status: Status) => {
    if (status.status === "ACTIVE") return admitted();
    clearInterval(ticker);
    if (status.opensAt) {
      const opensAt = Date.parse(status.opensAt);
      position.textContent = `오픈 전 대기 ${status.queuePosition.toLocaleString("ko-KR")}명`;
      estimate.textContent = "오픈 시각에 대기 중인 모든 분의 순서가 무작위로 정해집니다. 일찍 들어와도 늦게 들어와도 같습니다.";
      const tick = () => (opening.textContent = `오픈까지 ${clock((opensAt - Date.now()) / 1000)}`);
      tick();
      ticker = setInterval(tick, 1000);
      bar.value = 0;
      return;
    }
    opening.textContent = "";
    firstPosition = Math.max(firstPosition, status.queuePosition);
    position.textContent = `대기 순번 ${status.queuePosition.toLocaleString("ko-KR")}번`;
    estimate.textContent = `예상 대기 시간 ${roughly(status.estimatedWaitingTime)}`;
    bar.value = firstPosition === 0 ? 100 : Math.round(((firstPosition - status.queuePosition) / firstPosition) * 100);
    // A screen reader hears the place now and then, not at every step of a fast-moving line.
    if (Date.now() - lastAnnounced > 30_000) {
      lastAnnounced = Date.now();
      announce(position.textContent);
    }
  };

  /** Whether to keep listening: the token's status answers it, and may itself be the admission. */
  const stillWaiting = async (token: string): Promise<boolean> => {
    try {
      const status = await call(api.queue.status.get({ headers: ctx.headers(token) }));
      render(status.data);
      return status.data.status === "WAITING";
    } catch (error) {
      if (error instanceof PageError && LOST_CODES.has(error.code)) {
        lost(error);
        return false;
      }
      return true;
    }
  };

  const listen = (token: string) => {
    stream = new LiveStream(`/api/v1/queue/stream?token=${encodeURIComponent(token)}`, {
      events: { status: render },
      stillWanted: () => stillWaiting(token),
      onState: (state) => {
        connection.textContent = state.connected ? "실시간으로 연결되어 있습니다." : `연결이 끊겼습니다. ${state.retryInSeconds}초 후 다시 연결합니다.`;
      },
    });
  };

  const enter = async () => {
    notice(messages, "");
    try {
      let token = ctx.tokens.get(concertId);
      if (!token) {
        const ticket = await call(api.queue.tokens.post({ concertId }, { headers: ctx.headers() }));
        token = ticket.data.token;
        ctx.tokens.set(concertId, token);
      }
      if (!disposed) listen(token);
    } catch (error) {
      notice(messages, messageOf(error));
    }
  };

  void enter();
  return () => {
    disposed = true;
    clearInterval(ticker);
    stream?.close();
  };
}
