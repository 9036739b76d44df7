// The page of infogan-explore: steer an exported InfoGAN's codes and see the image change.
//
// Everything is built from the model's metadata (GET v1/models/<name>/metadata): one category
// picker per categorical code, one slider per continuous code (the explorer's range, the prior's
// range shaded and ticked), the noise z drawn here from its prior Uniform(-1, 1). Images come from
// the explorer's TF Serving-style API (POST v1/models/<name>:predict, output images_png) and the
// traversal grid from :traverse. Requests are debounced and at most one per kind is in flight: a
// dragged slider sends one request when it pauses and one more for where it ended, never a queue.
// Errors (the API's {"error": ...}) are shown on the page. No build step: plain ES2017.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    name: null, latent: null, imageShape: null, limit: 2, prior: 1,
    z: [], categorical: [], continuous: [], noiseDraws: 0,
    shown: null, grid: null, encoded: null,
  };
  const updaters = [];
  let base = "";
  let encoding = false;
  let started = false;  // the metadata is loaded and the first requests are scheduled (or loading failed)

  // ------------------------------------------------------------------ API calls
  async function call(verb, body) {
    let response;
    try {
      response = await fetch(`${base}:${verb}`, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`the explorer cannot be reached (${e.message})`);
    }
    return answerOf(response);
  }

  async function answerOf(response) {
    let answer;
    try {
      answer = await response.json();
    } catch (e) {
      throw new Error(`HTTP ${response.status}: the answer is not JSON`);
    }
    if (!response.ok || answer.error) throw new Error(answer.error || `HTTP ${response.status}`);
    return answer;
  }

  function showStatus(element, message, isError) {
    element.textContent = message;
    element.classList.toggle("error", Boolean(isError));
  }

  // One task, debounced: at most one run in flight, and one more queued for the latest state.
  function debounced(task, delay) {
    const u = {timer: null, running: false, again: false};
    const run = async () => {
      u.timer = null;
      if (u.running) { u.again = true; return; }
      u.running = true;
      try { await task(); } finally {
        u.running = false;
        if (u.again) { u.again = false; schedule(); }
        markBusy();
      }
    };
    const schedule = () => {
      if (u.timer) clearTimeout(u.timer);
      u.timer = setTimeout(run, delay);
      markBusy();
    };
    updaters.push(u);
    return schedule;
  }

  const idle = () => started && !encoding && updaters.every((u) => !u.timer && !u.running && !u.again);
  const markBusy = () => { document.body.dataset.busy = String(!idle()); };
  const pngUrl = (value) => `data:image/png;base64,${value.b64}`;
  const codes = () => ({z: state.z.slice(), categorical: state.categorical.slice(), continuous: state.continuous.slice()});

  // ---------------------------------------------------------------- generation
  function drawNoise() {
    state.z = Array.from({length: state.latent.noise_dim}, () => Math.random() * 2 - 1);
    state.noiseDraws += 1;
    $("noise-id").textContent = `noise draw #${state.noiseDraws}`;
  }

  const scheduleImage = debounced(async () => {
    if (!$("lock").checked) drawNoise();
    const sent = codes();
    try {
      const answer = await call("predict", {
        signature_name: "generate", instances: [sent], output_filter: ["images_png"],
      });
      const url = pngUrl(answer.predictions[0]);
      $("sample").src = url;
      $("download-image").href = url;
      state.shown = sent;
      showStatus($("status"), "");
    } catch (e) {
      showStatus($("status"), e.message, true);
    }
  }, 60);

  const scheduleGrid = debounced(async () => {
    const pick = (id) => ($(id).value === "" ? null : Number($(id).value));
    const request = {
      ...codes(), categorical_code: pick("grid-rows"), continuous_code: pick("grid-cols"),
      cols: Number($("grid-steps").value), lo: -state.limit, hi: state.limit,
    };
    try {
      const answer = await call("traverse", request);
      const url = pngUrl(answer.grid_png);
      $("grid").onload = () => fitGrid($("grid"));
      $("grid").src = url;
      $("download-grid").href = url;
      state.grid = {request, rows: answer.rows, cols: answer.cols};
      showStatus($("status"), "");
    } catch (e) {
      showStatus($("status"), `traversal grid: ${e.message}`, true);
    }
  }, 150);

  // Shows the grid at a whole multiple of its size (crisp pixels) that fits its column.
  function fitGrid(img) {
    const room = Math.min(img.parentElement.clientWidth || 600, 620);
    const scale = Math.max(1, Math.min(4, Math.floor(room / img.naturalWidth)));
    img.style.width = `${img.naturalWidth * scale}px`;
  }

  // ------------------------------------------------------------------ controls
  function categoryPicker(i, k) {
    const box = document.createElement("div");
    box.className = "code";
    box.innerHTML = `<span class="code-name">categorical code ${i} (${k} categories)</span>`;
    const row = document.createElement("div");
    row.className = "categories";
    row.setAttribute("role", "group");
    for (let j = 0; j < k; j++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(j);
      b.dataset.code = String(i);
      b.dataset.category = String(j);
      b.addEventListener("click", () => { setCategory(i, j); scheduleImage(); });
      row.appendChild(b);
    }
    box.appendChild(row);
    return box;
  }

  function setCategory(i, j) {
    state.categorical[i] = j;
    document.querySelectorAll(`button[data-code="${i}"]`).forEach((b) => {
      b.setAttribute("aria-pressed", String(Number(b.dataset.category) === j));
    });
  }

  function slider(j) {
    const L = state.limit, r = state.prior;
    const box = document.createElement("div");
    box.className = "code";
    const lo = ((L - r) / (2 * L)) * 100, hi = ((L + r) / (2 * L)) * 100;
    box.innerHTML = `
      <label class="code-name" for="cont-${j}">continuous code ${j}
        <span class="hint">(shaded: the prior's range, Uniform(−${r}, ${r}))</span></label>
      <div class="slider">
        <div class="track">
          <input type="range" id="cont-${j}" data-code="${j}" min="${-L}" max="${L}" step="0.01" value="0"
            list="ticks-${j}">
          <div class="prior-band" title="the prior's range"><span style="left:${lo}%; width:${hi - lo}%"></span></div>
        </div>
        <output id="cont-${j}-value">0.00</output>
      </div>
      <datalist id="ticks-${j}"><option value="${-r}"></option><option value="0"></option>
        <option value="${r}"></option></datalist>
      <div class="scale"><span>${-L}</span><span>0</span><span>${L}</span></div>`;
    const input = box.querySelector("input");
    input.addEventListener("input", () => { setContinuous(j, Number(input.value)); scheduleImage(); });
    return box;
  }

  function setContinuous(j, value) {
    state.continuous[j] = value;
    $(`cont-${j}`).value = String(value);
    $(`cont-${j}-value`).textContent = value.toFixed(2);
  }

  function option(select, value, text) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function buildControls() {
    const lat = state.latent;
    lat.categorical.forEach((k, i) => $("categorical").appendChild(categoryPicker(i, k)));
    for (let j = 0; j < lat.continuous; j++) $("continuous").appendChild(slider(j));
    state.categorical = lat.categorical.map(() => 0);
    state.continuous = Array.from({length: lat.continuous}, () => 0);
    lat.categorical.forEach((k, i) => setCategory(i, 0));
    lat.categorical.forEach((k, i) => option($("grid-rows"), String(i), `categorical code ${i}`));
    option($("grid-rows"), "", "none (one row)");
    for (let j = 0; j < lat.continuous; j++) option($("grid-cols"), String(j), `continuous code ${j}`);
    option($("grid-cols"), "", "none (one column)");
    $("redraw").addEventListener("click", () => { drawNoise(); scheduleImage(); scheduleGrid(); });
    $("lock").addEventListener("change", scheduleImage);
    $("draw-grid").addEventListener("click", scheduleGrid);
    ["grid-rows", "grid-cols"].forEach((id) => $(id).addEventListener("change", scheduleGrid));
  }

  // -------------------------------------------------------------------- encode
  function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  async function encodeFile(file) {
    encoding = true;
    markBusy();
    const status = $("encode-status");
    showStatus(status, `reading ${file.name}…`);
    try {
      const b64 = toBase64(new Uint8Array(await file.arrayBuffer()));
      const answer = await call("predict", {
        signature_name: "encode", instances: [{b64}],
        output_filter: ["categorical_probs", "continuous_mean", "continuous_std", "categorical", "input_png"],
      });
      showEncoded(answer.predictions[0]);
      showStatus(status, `Q's reading of ${file.name}:`);
    } catch (e) {
      $("encode-result").hidden = true;
      state.encoded = null;
      showStatus(status, `${file.name}: ${e.message}`, true);
    } finally {
      encoding = false;
      markBusy();
    }
  }

  function showEncoded(p) {
    state.encoded = p;
    $("encoded-input").src = pngUrl(p.input_png);
    const out = $("encoded-codes");
    out.innerHTML = "";
    let start = 0;
    state.latent.categorical.forEach((k, i) => {
      const probs = p.categorical_probs.slice(start, start + k);
      start += k;
      const box = document.createElement("div");
      box.className = "code";
      box.innerHTML = `<span class="code-name">categorical code ${i}: category ${p.categorical[i]}</span>`;
      const grid = document.createElement("div");
      grid.className = "probs";
      probs.forEach((q, j) => {
        const best = j === p.categorical[i] ? " best" : "";
        grid.insertAdjacentHTML("beforeend", `<span class="${best}">${j}</span>
          <span class="bar" style="width:${(q * 100).toFixed(1)}%"></span><span class="${best}">${q.toFixed(3)}</span>`);
      });
      box.appendChild(grid);
      out.appendChild(box);
    });
    p.continuous_mean.forEach((m, j) => {
      out.insertAdjacentHTML("beforeend", `<div class="code">continuous code ${j}: ${m.toFixed(3)}
        ± ${p.continuous_std[j].toFixed(3)}</div>`);
    });
    $("encode-result").hidden = false;
  }

  function regenerate() {
    const p = state.encoded;
    if (!p) return;
    p.categorical.forEach((j, i) => setCategory(i, j));
    p.continuous_mean.forEach((m, j) => setContinuous(j, Math.max(-state.limit, Math.min(state.limit, m))));
    scheduleImage();
  }

  function wireEncode() {
    const zone = $("dropzone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const file = e.dataTransfer.files[0];
      if (file) encodeFile(file);
      else showStatus($("encode-status"), "drop an image file (PNG or JPEG)", true);
    });
    $("upload").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file) encodeFile(file);
      e.target.value = "";
    });
    $("regenerate").addEventListener("click", regenerate);
  }

  // ---------------------------------------------------------------------- start
  async function start() {
    try {
      const list = await answerOf(await fetch("v1/models"));
      const model = list.models[0];
      base = `v1/models/${encodeURIComponent(model.name)}`;
      const meta = (await answerOf(await fetch(`${base}/metadata`))).metadata.explorer;
      Object.assign(state, {
        name: model.name, latent: meta.latent, imageShape: meta.image_shape,
        limit: meta.limits.continuous[1], prior: meta.prior_range[1],
      });
      const lat = meta.latent, s = meta.image_shape;
      $("model").textContent = `${model.name} version ${model.version} · ${meta.source} · noise ${lat.noise_dim}, ` +
        `categorical [${lat.categorical.join(", ")}], ${lat.continuous} continuous · images ${s.join("×")}`;
      buildControls();
      wireEncode();
      drawNoise();
      scheduleImage();
      scheduleGrid();
    } catch (e) {
      showStatus($("status"), `cannot load the model: ${e.message}`, true);
    }
    started = true;
    markBusy();
  }

  window.explorer = {state, idle};
  start();
})();
