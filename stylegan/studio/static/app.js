"use strict";
// The studio page: controls edit `state.settings`; frames are rendered by the server, one request in
// flight at a time (the newest settings are sent when it returns), so nothing ever queues.

const $ = (id) => document.getElementById(id);
const state = {
  settings: {
    network: "", seed: 0, dx: 0, dy: 0, ws_file: null, class_idx: null, mix_seed: null, mix_layers: [],
    mix_weight: 1, psi: 1, cutoff: null, noise_mode: "const", noise_seed: 0, noise_off: [],
    translate: [0, 0], rotate: 0, untransform: false, directions: [],
  },
  info: null, inflight: false, dirty: false, frames: 0, frameTimes: [], projectedFile: null,
};
window.studio = state;

function showError(text) { $("message").textContent = text || ""; }

// The token came in the address (?token=...) and is now an HttpOnly cookie: drop it from the address bar.
if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
const clientId = Math.random().toString(36).slice(2);  // renders are latest-wins per client

async function api(path, body, options = {}) {
  const init = body === undefined ? {} : {method: "POST", body: options.raw ? body : JSON.stringify(body),
    headers: {"Content-Type": options.raw ? "application/octet-stream" : "application/json"}};
  let data;
  try {
    const response = await fetch(path, init);
    data = await response.json();
  } catch (err) {
    throw new Error(`the studio server did not answer (${err.message})`);
  }
  if (data.error) throw new Error(data.error);
  return data;
}

function updateIdle() {
  document.body.dataset.idle = !state.inflight && !state.dirty ? "1" : "0";
}

function requestRender() {
  state.dirty = true;
  updateIdle();
  if (!state.inflight) sendRender();
}

async function sendRender() {
  state.dirty = false;
  state.inflight = true;
  updateIdle();
  const view = $("layer").value ? {layer: $("layer").value, channel: +$("channel").value || 0, rgb: $("rgb").checked}
    : null;
  try {
    const frame = await api("api/render", {settings: state.settings, view, client: clientId});
    if (!frame.superseded) {
      $("frame").src = frame.image;
      showLayerView(frame);
      const now = performance.now();
      state.frameTimes = state.frameTimes.filter((t) => now - t < 2000).concat([now]);
      const fps = state.frameTimes.length > 1 ? (state.frameTimes.length - 1) / ((now - state.frameTimes[0]) / 1000) : 0;
      $("perf").textContent = `${frame.ms.toFixed(1)} ms render · ${fps.toFixed(1)} frames/s · ${frame.device}`;
      state.frames += 1;
      document.body.dataset.frames = String(state.frames);
      showError("");
    }
  } catch (err) {
    showError(err.message);
  }
  state.inflight = false;
  if (state.dirty) sendRender(); else updateIdle();
}

// The layer view's two images show only while a layer is chosen (no empty, broken images otherwise).
function showLayerView(frame) {
  for (const id of ["activations", "spectrum"]) {
    const image = $(id);
    if (frame[id]) image.src = frame[id]; else image.removeAttribute("src");
    image.hidden = !frame[id];
  }
}

function checkboxes(container, count, checked, onChange, label) {
  container.innerHTML = "";
  for (let i = 0; i < count; i++) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.index = String(i);
    box.checked = checked.includes(i);
    box.addEventListener("change", () => onChange(i, box.checked));
    const wrap = document.createElement("label");
    wrap.append(box, label(i));
    container.append(wrap);
  }
}

function toggle(list, i, on) {
  const out = list.filter((v) => v !== i);
  if (on) out.push(i);
  return out.sort((a, b) => a - b);
}

function applyInfo(info) {
  state.info = info;
  const s = state.settings;
  $("network").innerHTML = "";
  for (const name of info.networks) $("network").append(new Option(name, name, false, name === info.network));
  $("network-info").textContent = `StyleGAN${info.generation}, ${info.resolution}², ${info.num_ws} ws` +
    (info.c_dim ? `, ${info.c_dim} classes` : "");
  $("class-row").hidden = info.c_dim === 0;
  $("class").innerHTML = "";
  for (let c = 0; c < info.c_dim; c++) $("class").append(new Option(String(c), String(c), false, c === s.class_idx));
  checkboxes($("mix-layers"), info.num_ws, s.mix_layers, (i, on) => {
    s.mix_layers = toggle(s.mix_layers, i, on); requestRender();
  }, (i) => String(i));
  checkboxes($("noise-layers"), info.noise_layers, [], (i, on) => {
    s.noise_off = toggle(s.noise_off, i, !on); requestRender();
  }, (i) => `n${i}`);
  for (const box of $("noise-layers").querySelectorAll("input")) box.checked = !s.noise_off.includes(+box.dataset.index);
  $("transform").hidden = !info.transform;
  const chosen = $("layer").value;
  $("layer").innerHTML = '<option value="">(off)</option>';
  const body = $("layer-table").querySelector("tbody");
  body.innerHTML = "";
  for (const layer of info.layers) {
    $("layer").append(new Option(layer.name, layer.name, false, layer.name === chosen));
    const row = body.insertRow();
    for (const value of [layer.name, `${layer.resolution}²`, layer.channels]) row.insertCell().textContent = value;
    row.addEventListener("click", () => { $("layer").value = layer.name; markLayer(); requestRender(); });
  }
  markLayer();
  syncControls();
}

function markLayer() {
  for (const row of $("layer-table").querySelectorAll("tbody tr")) {
    row.classList.toggle("chosen", row.cells[0].textContent === $("layer").value);
  }
}

function syncControls() {
  const s = state.settings;
  $("seed").value = s.seed;
  $("psi").value = s.psi;
  $("psi-value").textContent = s.psi;
  $("mix-weight-value").textContent = s.mix_weight;
  $("pad-pos").textContent = `x ${(s.seed + s.dx).toFixed(2)}, y ${s.dy.toFixed(2)}`;
  drawPad();
  renderDirections();
}

async function switchNetwork(name) {
  try {
    const answer = await api("api/network", {network: name, settings: state.settings});
    state.settings = answer.settings;
    applyInfo(answer.info);
    requestRender();
  } catch (err) {
    showError(err.message);
    if (state.info) $("network").value = state.info.network;
  }
}

function drawPad() {
  const pad = $("pad"), ctx = pad.getContext("2d"), s = state.settings;
  ctx.clearRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#555";
  const step = 40, ox = (s.dx - Math.floor(s.dx)) * step, oy = (s.dy - Math.floor(s.dy)) * step;
  for (let x = pad.width / 2 - ox - 2 * step; x < pad.width; x += step) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, pad.height); ctx.stroke(); }
  for (let y = pad.height / 2 - oy - 2 * step; y < pad.height; y += step) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(pad.width, y); ctx.stroke(); }
  ctx.fillStyle = "#8cf";
  ctx.beginPath(); ctx.arc(pad.width / 2, pad.height / 2, 4, 0, 7); ctx.fill();
}

function padEvents() {
  const pad = $("pad");
  let last = null;
  pad.addEventListener("pointerdown", (e) => { last = [e.clientX, e.clientY]; pad.setPointerCapture(e.pointerId); });
  pad.addEventListener("pointerup", () => { last = null; });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    const s = state.settings;
    s.dx -= (e.clientX - last[0]) / 40;
    s.dy -= (e.clientY - last[1]) / 40;
    last = [e.clientX, e.clientY];
    syncControls();
    requestRender();
  });
}

function animate() {
  let previous = null;
  const tick = (now) => {
    if (!$("animate").checked) { previous = null; return; }
    if (previous !== null) { state.settings.dx += (now - previous) / 1000 * 0.5; syncControls(); requestRender(); }
    previous = now;
    requestAnimationFrame(tick);
  };
  $("animate").addEventListener("change", () => requestAnimationFrame(tick));
}

function renderDirections() {
  const box = $("directions");
  if (box.childElementCount === state.settings.directions.length) return;
  box.innerHTML = "";
  state.settings.directions.forEach((d, k) => {
    const row = document.createElement("div");
    row.className = "direction";
    const kinds = {sefa: "SeFa", ganspace: "GANSpace"};
    const name = d.kind in kinds ? `${kinds[d.kind]} ${d.index}` : `${d.file.split("/").pop()}:${d.index}`;
    row.innerHTML = `<span>${name}</span> <input type="range" min="-10" max="10" step="0.1" value="${d.strength}">
      <span class="strength">${d.strength}</span> <select><option>all</option><option>coarse</option>
      <option>middle</option><option>fine</option></select> <button>remove</button>`;
    const [slider, layers, remove] = row.querySelectorAll("input, select, button");
    layers.value = d.layers;
    slider.addEventListener("input", () => {
      d.strength = +slider.value; row.querySelector(".strength").textContent = slider.value; requestRender();
    });
    layers.addEventListener("change", () => { d.layers = layers.value; requestRender(); });
    remove.addEventListener("click", () => { state.settings.directions.splice(k, 1); renderDirections(); requestRender(); });
    box.append(row);
  });
}

async function pollProjection() {
  try {
    const p = await api("api/project");
    $("project-progress").max = p.steps || 1;
    $("project-progress").value = p.step || 0;
    if (p.state === "running") {
      $("project-status").textContent = `step ${p.step}/${p.steps}` + (p.loss !== null ? `, loss ${p.loss.toFixed(4)}` : "");
      setTimeout(pollProjection, 300);
    } else if (p.state === "done") {
      state.projectedFile = p.ws_file;
      state.settings.ws_file = p.ws_file;
      $("use-projection").disabled = false;
      $("use-projection").checked = true;
      $("project-status").textContent = `done: ${p.ws_file.split("/").pop()}`;
      requestRender();
    } else if (p.state === "error") {
      $("project-status").textContent = "failed";
      showError(p.error);
    }
  } catch (err) {
    showError(err.message);
  }
}

function bind() {
  const s = () => state.settings;
  const number = (id, key, parse = (v) => parseInt(v, 10)) => $(id).addEventListener("change", () => {
    const value = parse($(id).value);
    if (Number.isNaN(value)) { showError(`${id}: not a number`); return; }
    s()[key] = value; requestRender();
  });
  $("network").addEventListener("change", () => switchNetwork($("network").value));
  $("network-load").addEventListener("click", () => switchNetwork($("network-path").value.trim()));
  $("seed").addEventListener("change", () => {
    const seed = parseInt($("seed").value, 10);
    if (Number.isNaN(seed) || seed < 0) { showError("the seed must be a whole number from 0"); return; }
    Object.assign(s(), {seed, dx: 0, dy: 0, ws_file: null});
    $("use-projection").checked = false;
    syncControls(); requestRender();
  });
  $("class").addEventListener("change", () => { s().class_idx = +$("class").value; requestRender(); });
  const mixSeed = () => { s().mix_seed = $("mix-on").checked ? (parseInt($("mix-seed").value, 10) || 0) : null; requestRender(); };
  $("mix-on").addEventListener("change", mixSeed);
  $("mix-seed").addEventListener("change", mixSeed);
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => {
      const preset = button.dataset.preset;
      s().mix_layers = preset === "none" ? [] : [...state.info.ranges[preset]];
      for (const box of $("mix-layers").querySelectorAll("input")) box.checked = s().mix_layers.includes(+box.dataset.index);
      requestRender();
    });
  }
  $("mix-weight").addEventListener("input", () => { s().mix_weight = +$("mix-weight").value; syncControls(); requestRender(); });
  $("psi").addEventListener("input", () => { s().psi = +$("psi").value; syncControls(); requestRender(); });
  $("cutoff").addEventListener("change", () => {
    s().cutoff = $("cutoff").value === "" ? null : parseInt($("cutoff").value, 10); requestRender();
  });
  $("noise-mode").addEventListener("change", () => { s().noise_mode = $("noise-mode").value; requestRender(); });
  number("noise-seed", "noise_seed");
  for (const id of ["tx", "ty", "rotate"]) {
    $(id).addEventListener("input", () => {
      s().translate = [+$("tx").value, +$("ty").value]; s().rotate = +$("rotate").value; requestRender();
    });
  }
  $("untransform").addEventListener("change", () => { s().untransform = $("untransform").checked; requestRender(); });
  for (const id of ["layer", "channel", "rgb"]) $(id).addEventListener("change", () => { markLayer(); requestRender(); });
  $("component-add").addEventListener("click", () => {
    s().directions.push({kind: $("component-kind").value, index: +$("component-index").value || 0, strength: 0,
      layers: "all", file: null});
    renderDirections();
  });
  $("direction-load").addEventListener("click", async () => {
    const file = $("direction-file").value.trim();
    try {
      const {count} = await api("api/direction", {file, network: s().network});
      for (let index = 0; index < Math.min(count, 10); index++) {
        s().directions.push({kind: "file", index, strength: 0, layers: "all", file});
      }
      renderDirections();
      showError("");
    } catch (err) { showError(err.message); }
  });
  $("project-start").addEventListener("click", async () => {
    const file = $("project-file").files[0];
    if (!file) { showError("choose an image to project first"); return; }
    const query = new URLSearchParams({network: s().network, steps: $("project-steps").value,
      class: s().class_idx === null ? "" : String(s().class_idx)});
    try {
      await api(`api/project?${query}`, file, {raw: true});
      $("project-status").textContent = "started";
      pollProjection();
    } catch (err) { showError(err.message); }
  });
  $("use-projection").addEventListener("change", () => {
    s().ws_file = $("use-projection").checked ? state.projectedFile : null; requestRender();
  });
  $("capture").addEventListener("click", async () => {
    try {
      const files = await api("api/capture", {settings: s()});
      $("capture-result").textContent = `saved ${files.png.split("/").pop()}, .npz, .json`;
      $("capture-result").dataset.png = files.png;
      $("capture-result").dataset.json = files.json;
      showError("");
    } catch (err) { showError(err.message); }
  });
}

async function start() {
  bind();
  padEvents();
  animate();
  updateIdle();
  try {
    const {networks} = await api("api/networks");
    if (networks.length) await switchNetwork(networks[0]);
    else showError("no network yet: type a checkpoint path and press Load");
  } catch (err) { showError(err.message); }
}

start();
