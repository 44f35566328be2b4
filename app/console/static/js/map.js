// The alert's map, drawn as SVG from the region's own reference data (kecamatan outlines, posts,
// stations): no online tiles. Zoom with the buttons, the wheel or +/-; pan by dragging or with
// the arrow keys.
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

function areaPaths(highlight) {
  if (!cachedAreas) cachedAreas = state.map.areas.map((a) => ({ code: a.code, name: a.name, d: geometryPath(a.geometry) }));
  return cachedAreas.map((a) => svg("path", { d: a.d, class: a.code === highlight ? "area here" : "area" }, svg("title", {}, a.name)));
}

export function drawMap(alert, trail) {
  const fix = alert.last_location;
  let view = fix ? { cx: x(fix.lon), cy: y(fix.lat), w: 60 } : { cx: x(106.84), cy: y(-6.22), w: 420 };
  const layers = [svg("g", { class: "areas" }, areaPaths(alert.area_code))];
  const posts = [...state.units.values()].filter((u) => u.lat != null && u.kind !== "transit_desk");
  layers.push(svg("g", { class: "posts" }, posts.map((u) => svg("rect", { x: x(u.lon) - 0.6, y: y(u.lat) - 0.6, width: 1.2, height: 1.2, class: u.code === state.me.unit_code ? "post mine" : "post" }, svg("title", {}, u.name)))));
  layers.push(svg("g", { class: "stations" }, state.map.stations.map((s) => svg("circle", { cx: x(s.lon), cy: y(s.lat), r: 0.35, class: "station" }, svg("title", {}, s.name)))));
  if (trail.length > 1) {
    layers.push(svg("polyline", { class: "trail", points: trail.map((p) => `${x(p.lon)},${y(p.lat)}`).join(" ") }));
  }
  if (fix) {
    layers.push(svg("circle", { class: "accuracy", cx: x(fix.lon), cy: y(fix.lat), r: Math.max(metres(fix.accuracy_m || 0), 0.3) }));
    layers.push(svg("circle", { class: "victim", cx: x(fix.lon), cy: y(fix.lat), r: 0.5 }, svg("title", {}, t("map.victim"))));
  }
  const canvas = svg(
    "svg",
    { class: "map", role: "img", tabindex: "0", "aria-label": fix ? t("map.label", { area: alert.area_name || "", acc: Math.round(fix.accuracy_m || 0) }) : t("map.label_none") },
    layers,
  );
  const apply = () => {
    const hgt = view.w * 0.62;
    canvas.setAttribute("viewBox", `${view.cx - view.w / 2} ${view.cy - hgt / 2} ${view.w} ${hgt}`);
    canvas.style.setProperty("--stroke", String(view.w / 600));
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
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const scale = view.w / canvas.clientWidth;
    view.cx -= (event.clientX - drag.x) * scale;
    view.cy -= (event.clientY - drag.y) * scale;
    drag = { x: event.clientX, y: event.clientY };
    apply();
  });
  canvas.addEventListener("pointerup", () => {
    drag = null;
  });
  apply();
  const legend = h(
    "ul",
    { class: "legend" },
    h("li", {}, h("span", { class: "key victim-key", "aria-hidden": "true" }, "●"), " ", t("map.victim")),
    h("li", {}, h("span", { class: "key accuracy-key", "aria-hidden": "true" }, "◯"), " ", t("map.accuracy")),
    h("li", {}, h("span", { class: "key post-key", "aria-hidden": "true" }, "■"), " ", t("map.post")),
    h("li", {}, h("span", { class: "key station-key", "aria-hidden": "true" }, "•"), " ", t("map.station")),
  );
  const controls = h(
    "div",
    { class: "map-controls" },
    h("button", { type: "button", "aria-label": t("map.zoom_in"), onclick: () => zoom(0.8) }, "+"),
    h("button", { type: "button", "aria-label": t("map.zoom_out"), onclick: () => zoom(1.25) }, "−"),
  );
  return h("div", { class: "map-wrap" }, controls, canvas, legend, h("p", { class: "hint" }, t("map.hint")));
}
