// The new-offer alarm: a tone through Web Audio (unlocked by the click that signs in, since
// browsers block sound until the user acts), a flash, and a system notification when the tab is
// hidden that shows only the case code and the kecamatan.
let audio = null;
let muted = false;

export function unlockSound() {
  if (!audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context) audio = new Context();
  }
  audio?.resume?.();
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

export function setMuted(value) {
  muted = value;
}

export function isMuted() {
  return muted;
}

export function ring() {
  if (muted || !audio) return;
  const now = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.3, now + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.001, now + offset + 0.22);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + offset);
    osc.stop(now + offset + 0.24);
  }
}

export function flash() {
  document.body.classList.remove("flash");
  void document.body.offsetWidth; // restart the animation
  document.body.classList.add("flash");
}

export function notify(title, body) {
  if (document.visibilityState !== "hidden") return;
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  new Notification(title, { body, tag: title, silent: false });
}

// Offers to my unit not seen yet while another alert is open: each rings again every
// REPEAT_MS until it is seen (its alert or the queue opened) or muted for it. The banner, the
// count on the queue button and the tab title read this list (app.js).
const REPEAT_MS = 10000;
const unseen = new Map(); // assignment id -> { alertId, caseCode, muted }
let repeater = null;
let changed = () => {};

export function onUnseenChange(callback) {
  changed = callback;
}

export function unseenOffers() {
  return [...unseen.entries()].map(([id, offer]) => ({ id, ...offer }));
}

export function offerUnseen(id, alertId, caseCode) {
  if (unseen.has(id)) return;
  unseen.set(id, { alertId, caseCode, muted: false });
  keepRinging();
  changed();
}

// Seen: every offer of this alert (null: the queue was opened, every offer is in sight).
export function offersSeen(alertId = null) {
  let any = false;
  for (const [id, offer] of unseen) {
    if (alertId === null || offer.alertId === alertId) {
      unseen.delete(id);
      any = true;
    }
  }
  if (any) {
    keepRinging();
    changed();
  }
}

// An offer that closed (accepted elsewhere, withdrawn, expired) no longer calls anyone.
export function offerGone(id) {
  if (unseen.delete(id)) {
    keepRinging();
    changed();
  }
}

export function muteOffer(id) {
  const offer = unseen.get(id);
  if (!offer) return;
  offer.muted = true;
  keepRinging();
  changed();
}

function keepRinging() {
  const calling = [...unseen.values()].some((o) => !o.muted);
  if (calling && !repeater) repeater = setInterval(ring, REPEAT_MS);
  if (!calling && repeater) {
    clearInterval(repeater);
    repeater = null;
  }
}
