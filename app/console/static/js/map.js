// The alert's map, drawn as SVG from the region's own reference data (kecamatan outlines, posts,
// stations): no online tiles. Zoom with the buttons, the wheel, +/- or two fingers; pan by
// dragging or with the arrow keys. Markers keep their size on screen at every zoom (a post's
// square must never hide a 15 m accuracy circle), and names appear as the zoom makes room:
// kecamatan first, then stations and posts.
import { h, svg } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";

const K = 1000; // SVG units per degree of latitude
const LAT0 = -6.2;
const COS = Math.cos((LAT0 * Math.PI) / 180);
const x = (lon) => (lon - 106.8) * K * COS;
const y = (lat) => -(lat - LAT0) * K;
const metres = (m) => (m / 111320) * K;

function ringPath(ring) {
  return ring.map(([lon, lat], i) => `${i ? "L" : "M"}${x(lon).toFixed(2)},${y(lat).toFixed(2)}`).join("") + "Z";
}

function geometryPath(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  return polygons.flatMap((poly) => poly.map(ringPath)).join("");
}

let cachedAreas = null;

// Where a kecamatan's name goes: the middle of its largest ring's bounding box (good enough for
// Jakarta's compact kecamatan; a label is a hint, the outline is the fact).
function labelPoint(geometry) {
  const rings = geometry.type === "Polygon" ? [geometry.coordinates[0]] : geometry.coordinates.map((p) => p[0]);
  const ring = rings.reduce((a, b) => (b.length > a.length ? b : a));
  const lons = ring.map((c) => c[0]);
  const lats = ring.map((c) => c[1]);
  return [(Math.min(...lons) + Math.max(...lons)) / 2, (Math.min(...lats) + Math.max(...lats)) / 2];
}

function areas() {
  if (!cachedAreas) cachedAreas = state.map.areas.map((a) => ({ code: a.code, name: a.name, d: geometryPath(a.geometry), at: labelPoint(a.geometry) }));
  return cachedAreas;
}

function areaPaths(highlight) {
  return areas().map((a) => svg("path", { d: a.d, class: a.code === highlight ? "area here" : "area" }, svg("title", {}, a.name)));
}

function areaLabels() {
  return svg("g", { class: "labels area-labels", "data-max-zoom": "260", "data-min-zoom": "8" },
    areas().map((a) => svg("text", { x: x(a.at[0]), y: y(a.at[1]), class: "label area-label", "data-px": "12" }, a.name)));
}

// A marker of `px` screen pixels, resized on every zoom by frame().
function marker(shape, cx, cy, px, attrs, title) {
  const el = shape === "rect"
    ? svg("rect", { ...attrs, "data-cx": cx, "data-cy": cy, "data-px": px })
    : svg("circle", { ...attrs, cx, cy, "data-px": px });
  if (title) el.append(typeof title === "string" ? svg("title", {}, title) : title);
  return el;
}

// The zoom and pan a person chose, per alert: a live update repaints the map and must not throw
// them back to the start (a counselor zoomed in on the victim would lose her place every fix).
const views = new Map();

export function drawMap(alert, trail) {
  const fix = alert.last_location;
  const view = views.get(alert.id) || (fix ? { cx: x(fix.lon), cy: y(fix.lat), w: 60 } : { cx: x(106.84), cy: y(-6.22), w: 420 });
  views.set(alert.id, view);
  const layers = [svg("g", { class: "areas" }, areaPaths(alert.area_code)), areaLabels()];
  const posts = [...state.units.values()].filter((u) => u.lat != null && u.kind !== "transit_desk");
  layers.push(svg("g", { class: "posts" }, posts.map((u) => marker("rect", x(u.lon), y(u.lat), 9, { class: u.code === state.me.unit_code ? "post mine" : "post" }, u.name))));
  layers.push(svg("g", { class: "stations" }, state.map.stations.map((s) => marker("circle", x(s.lon), y(s.lat), 7, { class: "station" }, s.name))));
  layers.push(svg("g", { class: "labels point-labels", "data-max-zoom": "6" }, [
    ...posts.map((u) => svg("text", { x: x(u.lon), y: y(u.lat), class: "label post-label", "data-px": "11", "data-dy": "14" }, u.name)),
    ...state.map.stations.map((s) => svg("text", { x: x(s.lon), y: y(s.lat), class: "label station-label", "data-px": "11", "data-dy": "-9" }, s.name)),
  ]));
  if (trail.length > 1) {
    layers.push(svg("polyline", { class: "trail", points: trail.map((p) => `${x(p.lon)},${y(p.lat)}`).join(" ") }));
  }
  if (fix) {
    // The circle is the real accuracy in metres, drawn above every marker and never smaller than
    // a few pixels, so it shows at any zoom; the victim's dot keeps its screen size.
    layers.push(svg("circle", { class: "accuracy", cx: x(fix.lon), cy: y(fix.lat), r: metres(fix.accuracy_m || 0), "data-min-px": "6" }));
    layers.push(marker("circle", x(fix.lon), y(fix.lat), 12, { class: "victim" }, t("map.victim")));
  }
  const label = fix ? t("map.label", { area: alert.area_name || "", acc: Math.round(fix.accuracy_m || 0) }) : t("map.label_none");
  return frame(layers, view, label, [
    h("li", {}, h("span", { class: "key victim-key", "aria-hidden": "true" }, "●"), " ", t("map.victim")),
    h("li", {}, h("span", { class: "key accuracy-key", "aria-hidden": "true" }, "◯"), " ", t("map.accuracy")),
    h("li", {}, h("span", { class: "key post-key", "aria-hidden": "true" }, "■"), " ", t("map.post")),
    h("li", {}, h("span", { class: "key station-key", "aria-hidden": "true" }, "•"), " ", t("map.station")),
  ]);
}

// The supervisor board's map: every unit with coordinates, marked by who is on duty there —
// someone at a console (filled square), only on-call people (diamond), rostered but nobody
// reachable (hollow square), nobody rostered (dot). Shapes and tooltips, not colour alone.
export function drawDutyMap(duty) {
  const byCode = new Map(duty.map((d) => [d.unit.code, d]));
  const units = [...state.units.values()].filter((u) => u.lat != null && u.active);
  const marks = units.map((u) => {
    const d = byCode.get(u.code);
    const status = !d ? "none" : d.present.length ? "present" : (d.on_call || []).length ? "on_call" : d.rostered.length ? "rostered" : "none";
    const cx = x(u.lon), cy = y(u.lat);
    const title = svg("title", {}, `${u.name}: ${t(`duty.${status}`)}${d ? ` (${[...new Set([...d.present, ...(d.on_call || [])])].join(", ") || "—"})` : ""}`);
    if (status === "on_call") return marker("rect", cx, cy, 11, { class: "duty on_call", "data-unit": u.code, "data-rotate": "45" }, title);
    if (status === "none") return marker("circle", cx, cy, 6, { class: "duty none", "data-unit": u.code }, title);
    return marker("rect", cx, cy, 11, { class: `duty ${status}`, "data-unit": u.code }, title);
  });
  const layers = [svg("g", { class: "areas" }, areaPaths(null)), areaLabels(), svg("g", { class: "duty-marks" }, marks)];
  const counts = { present: 0, on_call: 0, rostered: 0 };
  for (const m of marks) for (const k of Object.keys(counts)) if (m.classList.contains(k)) counts[k] += 1;
  if (!views.has("duty")) views.set("duty", { cx: x(106.84), cy: y(-6.2), w: 300 });
  return frame(layers, views.get("duty"), t("duty.map_label", counts), [
    h("li", {}, h("span", { class: "key duty-present-key", "aria-hidden": "true" }, "■"), " ", t("duty.present")),
    h("li", {}, h("span", { class: "key duty-on-call-key", "aria-hidden": "true" }, "◆"), " ", t("duty.on_call")),
    h("li", {}, h("span", { class: "key duty-rostered-key", "aria-hidden": "true" }, "□"), " ", t("duty.rostered")),
    h("li", {}, h("span", { class: "key duty-none-key", "aria-hidden": "true" }, "·"), " ", t("duty.none")),
  ]);
}

function frame(layers, view, label, legendItems) {
  const canvas = svg("svg", { class: "map", role: "img", tabindex: "0", "aria-label": label }, layers);
  const apply = () => {
    const hgt = view.w * 0.62;
    canvas.setAttribute("viewBox", `${view.cx - view.w / 2} ${view.cy - hgt / 2} ${view.w} ${hgt}`);
    canvas.style.setProperty("--stroke", String(view.w / 600));
    // Map units per screen pixel (before layout, the usual console width).
    const unit = view.w / (canvas.clientWidth || 600);
    for (const el of canvas.querySelectorAll("[data-px]")) {
      const px = Number(el.dataset.px) * unit;
      if (el.tagName === "circle") el.setAttribute("r", String(px / 2));
      else if (el.tagName === "rect") {
        const cx = Number(el.dataset.cx), cy = Number(el.dataset.cy);
        Object.entries({ x: cx - px / 2, y: cy - px / 2, width: px, height: px }).forEach(([k, v]) => el.setAttribute(k, String(v)));
        if (el.dataset.rotate) el.setAttribute("transform", `rotate(${el.dataset.rotate} ${cx} ${cy})`);
      } else if (el.tagName === "text") {
        el.setAttribute("font-size", String(px));
        if (el.dataset.dy) el.setAttribute("dy", String(Number(el.dataset.dy) * unit));
      }
    }
    for (const el of canvas.querySelectorAll("[data-min-px]")) {
      el.style.strokeWidth = String(unit * 1.5);
      el.setAttribute("r", String(Math.max(Number(el.getAttribute("r")) || 0, Number(el.dataset.minPx) * unit)));
    }
    for (const g of canvas.querySelectorAll(".labels")) {
      g.style.display = view.w <= Number(g.dataset.maxZoom) && view.w >= Number(g.dataset.minZoom || 0) ? "" : "none";
    }
  };
  const zoom = (factor) => {
    view.w = Math.min(800, Math.max(2, view.w * factor));
    apply();
  };
  const pan = (dx, dy) => {
    view.cx += dx * view.w;
    view.cy += dy * view.w;
    apply();
  };
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    zoom(event.deltaY > 0 ? 1.25 : 0.8);
  }, { passive: false });
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] };
    if (moves[event.key]) {
      event.preventDefault();
      pan(...moves[event.key]);
    } else if (event.key === "+" || event.key === "=") zoom(0.8);
    else if (event.key === "-") zoom(1.25);
  });
  // One pointer drags; two (fingers) pinch to zoom.
  const pointers = new Map();
  let drag = null;
  let pinch = null;
  const spread = () => {
    const [a, b] = [...pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  };
  canvas.addEventListener("pointerdown", (event) => {
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    canvas.setPointerCapture(event.pointerId);
    drag = pointers.size === 1 ? { x: event.clientX, y: event.clientY } : null;
    pinch = pointers.size === 2 ? spread() : null;
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pinch && pointers.size === 2) {
      const now = spread();
      if (now > 0) zoom(pinch / now);
      pinch = now;
      return;
    }
    if (!drag) return;
    const scale = view.w / canvas.clientWidth;
    view.cx -= (event.clientX - drag.x) * scale;
    view.cy -= (event.clientY - drag.y) * scale;
    drag = { x: event.clientX, y: event.clientY };
    apply();
  });
  const release = (event) => {
    pointers.delete(event.pointerId);
    pinch = null;
    drag = pointers.size === 1 ? { ...[...pointers.values()][0] } : null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  apply();
  // Once laid out, sizes follow the real width (the first pass guessed it).
  requestAnimationFrame(apply);
  const legend = h("ul", { class: "legend" }, legendItems);
  const controls = h(
    "div",
    { class: "map-controls" },
    h("button", { type: "button", "aria-label": t("map.zoom_in"), onclick: () => zoom(0.8) }, "+"),
    h("button", { type: "button", "aria-label": t("map.zoom_out"), onclick: () => zoom(1.25) }, "−"),
  );
  const touch = navigator.maxTouchPoints > 0 || window.matchMedia?.("(pointer: coarse)").matches;
  return h("div", { class: "map-wrap" }, controls, canvas, legend, h("p", { class: "hint" }, t(touch ? "map.hint_touch" : "map.hint")));
}
