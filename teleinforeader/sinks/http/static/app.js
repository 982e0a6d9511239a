// The page: live values from the event stream, history from the API, graphs in plain SVG.
// Everything comes from this server (the page's Content-Security-Policy allows nothing else).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PERIOD_COLOURS = ["#2f7ed8", "#f28f43", "#8bbc21", "#910000", "#1aadce", "#492970",
  "#77a1e5", "#c42525", "#a6c96a", "#0d233a"];
const state = { latest: null, energy: null, power: [] };

const $ = (id) => document.getElementById(id);

function text(id, value) {
  $(id).textContent = value;
}

function kwh(wh) {
  return wh === null || wh === undefined ? "–" : (wh / 1000).toFixed(2) + " kWh";
}

function clock(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function details(id, pairs) {
  const list = $(id);
  list.replaceChildren();
  for (const [name, value] of pairs) {
    const term = document.createElement("dt");
    term.textContent = name;
    const description = document.createElement("dd");
    description.textContent = value;
    list.append(term, description);
  }
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) {
    throw new Error(url + ": " + response.status);
  }
  return response.json();
}

// -- the reading now ----------------------------------------------------------------------------

function showReading(reading) {
  state.latest = reading;
  text("power-value", reading.power ? reading.power.value.toLocaleString() : "–");
  text("power-unit", reading.power ? reading.power.unit : "");
  text("currents", reading.currents.map((c) => c.label + " " + c.value + " " + c.unit)
    .concat(reading.voltages.map((v) => v.label + " " + v.value + " " + v.unit)).join(" · ") || "–");
  text("period", reading.period ? reading.period.name : "–");
  text("tempo", reading.tempo ? "Tempo: today " + reading.tempo.today + ", tomorrow "
    + reading.tempo.tomorrow : "");
  text("updated", "updated " + new Date(reading.epoch * 1000).toLocaleTimeString());
  text("meter-line", "meter " + reading.meter + " · " + reading.mode + " mode"
    + (reading.option ? " · " + reading.option : ""));
  const subscribed = reading.subscribed ? reading.subscribed.value + " " + reading.subscribed.unit : "–";
  details("meter-details", [
    ["Serial number", reading.meter],
    ["Mode", reading.mode],
    ["Option", reading.option || "–"],
    ["Subscribed", subscribed],
    ["Tempo", reading.tempo ? reading.tempo.today + " / " + reading.tempo.tomorrow : "–"],
    ["Period now", reading.period ? reading.period.name + " (" + reading.period.code + ")" : "–"],
  ]);
  const status = reading.status;
  details("status-word", status ? [[status.label, status.raw]].concat(
    Object.entries(status.fields).map(([name, value]) => [name.replace(/_/g, " "), String(value)]))
    : [["status", "not sent"]]);
  if (reading.power && reading.epoch) {
    state.power.push([reading.epoch, reading.power.value]);
    drawPower();
  }
  showEnergy();
}

// -- energy: today and yesterday per period -----------------------------------------------------

function showEnergy() {
  const energy = state.energy;
  const body = $("energy-table").tBodies[0];
  body.replaceChildren();
  if (!energy || energy.steps.length === 0) {
    text("energy-note", energy ? "no stored frames yet" : "");
    return;
  }
  const today = energy.steps[energy.steps.length - 1];
  const yesterday = energy.steps.length > 1 ? energy.steps[energy.steps.length - 2] : null;
  const live = {};
  if (state.latest && state.latest.meter === energy.meter) {
    for (const index of state.latest.indexes) {
      live[index.label] = index.value;
    }
  }
  let todayTotal = null;
  for (const [label, name] of Object.entries(energy.periods)) {
    let used = today.energy[label];
    if (label in live && label in today.first) {
      used = live[label] - today.first[label];  // up to this very frame
    }
    if (label !== "EAST" && label !== "EAIT" && used !== null && used !== undefined) {
      todayTotal = (todayTotal || 0) + used;
    }
    const row = body.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = kwh(used);
    row.insertCell().textContent = yesterday ? kwh(yesterday.energy[label]) : "–";
  }
  if ("EAST" in energy.periods) {
    todayTotal = "EAST" in live && "EAST" in today.first
      ? live.EAST - today.first.EAST : today.total;
  }
  text("today-total", kwh(todayTotal));
  text("yesterday-total", yesterday ? kwh(yesterday.total) : "–");
  text("energy-note", "from index differences, since local midnight");
}

// -- graphs ---------------------------------------------------------------------------------------

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  if (parent) {
    parent.append(node);
  }
  return node;
}

function frame(container, width, height) {
  const svg = element("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    preserveAspectRatio: "none" });
  container.replaceChildren(svg);
  return svg;
}

function axisLabel(svg, x, y, content, anchor) {
  const label = element("text", { x, y, "text-anchor": anchor || "middle", class: "axis" }, svg);
  label.textContent = content;
}

const WIDTH = 720, HEIGHT = 240, LEFT = 48, BOTTOM = 22, TOP = 8;

function drawPower() {
  const container = $("power-graph");
  const now = Date.now() / 1000;
  const points = state.power.filter(([t]) => t >= now - 86400);
  state.power = points;
  container.dataset.points = String(points.length);
  const svg = frame(container, WIDTH, HEIGHT);
  const peak = Math.max(100, ...points.map(([, p]) => p));
  const x = (t) => LEFT + (t - (now - 86400)) / 86400 * (WIDTH - LEFT);
  const y = (p) => HEIGHT - BOTTOM - p / peak * (HEIGHT - BOTTOM - TOP);
  for (const fraction of [0, 0.5, 1]) {
    element("line", { x1: LEFT, x2: WIDTH, y1: y(peak * fraction), y2: y(peak * fraction),
      class: "grid" }, svg);
    axisLabel(svg, LEFT - 4, y(peak * fraction) + 4, Math.round(peak * fraction), "end");
  }
  for (let hours = 24; hours >= 0; hours -= 6) {
    const anchor = hours === 24 ? "start" : hours === 0 ? "end" : "middle";
    axisLabel(svg, x(now - hours * 3600), HEIGHT - 6, clock(now - hours * 3600), anchor);
  }
  if (points.length > 0) {
    const path = points.map(([t, p], i) => (i ? "L" : "M") + x(t).toFixed(1) + " " + y(p).toFixed(1));
    element("path", { d: path.join(""), class: "power-line" }, svg);
  }
  svg.setAttribute("aria-label", points.length + " power readings over the last 24 hours");
}

function drawEnergy() {
  const container = $("energy-graph");
  const energy = state.energy;
  const svg = frame(container, WIDTH, HEIGHT);
  const steps = energy ? energy.steps : [];
  const labels = energy ? Object.keys(energy.periods).filter((l) => l !== "EAST" && l !== "EAIT")
    : [];
  const peak = Math.max(1000, ...steps.map((s) => s.total || 0));
  const slot = (WIDTH - LEFT) / Math.max(steps.length, 1);
  const y = (wh) => (wh / peak) * (HEIGHT - BOTTOM - TOP);
  for (const fraction of [0, 0.5, 1]) {
    const level = HEIGHT - BOTTOM - y(peak * fraction);
    element("line", { x1: LEFT, x2: WIDTH, y1: level, y2: level, class: "grid" }, svg);
    axisLabel(svg, LEFT - 4, level + 4, (peak * fraction / 1000).toFixed(1), "end");
  }
  let bars = 0;
  steps.forEach((step, i) => {
    let base = HEIGHT - BOTTOM;
    const parts = labels.length ? labels : ["EAST"];
    parts.forEach((label, n) => {
      const wh = labels.length ? step.energy[label] : step.total;
      if (!wh) {
        return;
      }
      const height = y(wh);
      base -= height;
      const bar = element("rect", { x: LEFT + i * slot + 1, y: base, width: Math.max(slot - 2, 1),
        height, fill: PERIOD_COLOURS[n % PERIOD_COLOURS.length], class: "bar" }, svg);
      const title = element("title", {}, bar);
      title.textContent = new Date(step.start * 1000).toLocaleDateString() + ": "
        + (energy.periods[label] || "total") + " " + kwh(wh);
      bars += 1;
    });
    const last = i === steps.length - 1;
    if ((i % 5 === 0 && i < steps.length - 3) || last) {
      axisLabel(svg, last ? WIDTH : LEFT + (i + 0.5) * slot, HEIGHT - 6,
        new Date(step.start * 1000).toLocaleDateString([], { day: "numeric", month: "short" }),
        last ? "end" : "middle");
    }
  });
  container.dataset.bars = String(bars);
  svg.setAttribute("aria-label", steps.length + " days of energy, kWh");
  const legend = $("energy-legend");
  legend.replaceChildren();
  labels.forEach((label, n) => {
    const item = document.createElement("span");
    item.className = "key key-" + (n % PERIOD_COLOURS.length);
    item.textContent = energy.periods[label];
    legend.append(item);
  });
}

// -- loading ----------------------------------------------------------------------------------------

async function loadPower() {
  const history = await getJson("/api/v1/history?series=power");
  state.power = history.points.map(([t, mean]) => [t, mean]);
  drawPower();
}

async function loadEnergy() {
  state.energy = await getJson("/api/v1/history?series=energy");
  drawEnergy();
  showEnergy();
}

async function loadStatus() {
  const status = await getJson("/api/v1/status");
  const health = $("health");
  health.dataset.healthy = String(status.healthy);
  health.textContent = status.healthy ? "healthy" : "not healthy";
  const rejected = Object.entries(status.rejected).filter(([, n]) => n > 0)
    .map(([reason, n]) => reason + " " + n).join(", ") || "none";
  const pairs = [
    ["Version", status.version],
    ["Uptime", formatDuration(status.uptime)],
    ["Frames", status.frames.toLocaleString()],
    ["Groups rejected", rejected],
    ["Guard holds", status.guard.held + " held, " + status.guard.confirmed + " confirmed"],
  ];
  for (const [name, sink] of Object.entries(status.sinks)) {
    const figures = [sink.alive ? "alive" : "DEAD", "backlog " + sink.backlog];
    for (const key of ["in_memory", "spooled", "clients", "streams"]) {
      if (key in sink.counters) {
        figures.push(key.replace("_", " ") + " " + sink.counters[key]);
      }
    }
    pairs.push([name, figures.join(", ")]);
  }
  details("daemon-details", pairs);
}

function formatDuration(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor(seconds % 86400 / 3600);
  const minutes = Math.floor(seconds % 3600 / 60);
  return (days ? days + " d " : "") + hours + " h " + minutes + " min";
}

function every(milliseconds, load) {
  const run = () => load().catch((error) => console.warn(error.message));
  run();
  setInterval(run, milliseconds);
}

function listen() {
  const events = new EventSource("/api/v1/events");
  events.addEventListener("reading", (message) => showReading(JSON.parse(message.data)));
}

document.addEventListener("DOMContentLoaded", () => {
  listen();
  every(5 * 60 * 1000, loadPower);
  every(10 * 60 * 1000, loadEnergy);
  every(10 * 1000, loadStatus);
});
