// Short notices in the corner: an offer gone, a transfer, a refused action.

import { byId, h, icon } from "../dom.js";

const SHOWN_MS = 6000;
const MAX_SHOWN = 4;

export function toast(text, tone = "info") {
  const box = byId("toasts");
  const item = h("div", { class: `toast toast--${tone}` }, icon(tone === "error" ? "alert" : "info"), h("span", { text }));
  box.append(item);
  while (box.children.length > MAX_SHOWN) box.firstElementChild.remove();
  setTimeout(() => item.remove(), SHOWN_MS);
}
