// The sites map: every fence of the organisation on a canvas, drawn from
// /sites/fences for the box in view. The server answers outlines when few
// fences are in view and a grid of counts when many are, so the browser
// never holds more than a couple of thousand polygons. No tiles, no
// fonts, nothing from another origin.
//
// Timings for the browser test and for the curious: canvas.dataset.firstMs
// (page start to the first drawn map) and dataset.lastMs (last input to
// the map drawn for it).
"use strict";
(() => {
  const canvas = document.getElementById("map");
  if (!canvas) return;
  const ctx = canvas.getContext("2d");
  const status = document.getElementById("map-status");
  const extentText = canvas.dataset.extent;
  if (!extentText) {
    status.textContent = "No fences yet.";
    return;
  }
  const [w0, s0, e0, n0] = extentText.split(",").map(Number);
  const W = canvas.width, H = canvas.height;
  const view = { cx: 0, cy: 0, k: 1 }; // centre lon/lat, pixels per degree of latitude
  const cosLat = () => Math.max(Math.cos(view.cy * Math.PI / 180), 0.01);
  const fitAll = () => {
    view.cx = (w0 + e0) / 2;
    view.cy = (s0 + n0) / 2;
    const spanX = Math.max((e0 - w0) * cosLat(), 1e-6), spanY = Math.max(n0 - s0, 1e-6);
    view.k = 0.92 * Math.min(W / spanX, H / spanY);
  };
  const toPx = (lon, lat) => [W / 2 + (lon - view.cx) * view.k * cosLat(), H / 2 - (lat - view.cy) * view.k];
  const bbox = () => {
    const dx = W / 2 / (view.k * cosLat()), dy = H / 2 / view.k;
    return { w: view.cx - dx, s: view.cy - dy, e: view.cx + dx, n: view.cy + dy };
  };
  let data = null, inputAt = performance.now(), first = true, pending = null, generation = 0;

  const draw = () => {
    ctx.clearRect(0, 0, W, H);
    if (!data) return;
    if (data.kind === "counts") {
      const b = data.box, cw = (b.e - b.w) / data.columns, ch = (b.n - b.s) / data.rows;
      const max = Math.max(1, ...data.counts);
      ctx.font = "11px system-ui, sans-serif";
      data.counts.forEach((count, i) => {
        if (!count) return;
        const col = i % data.columns, row = Math.floor(i / data.columns);
        const [x0, y0] = toPx(b.w + col * cw, b.n - row * ch);
        const [x1, y1] = toPx(b.w + (col + 1) * cw, b.n - (row + 1) * ch);
        ctx.fillStyle = `rgba(46,125,50,${0.15 + 0.75 * Math.sqrt(count / max)})`;
        ctx.fillRect(x0, y0, x1 - x0 - 1, y1 - y0 - 1);
        if (x1 - x0 > 26) {
          ctx.fillStyle = "#0b2e13";
          ctx.fillText(String(count), x0 + 3, y0 + 12);
        }
      });
    } else {
      ctx.lineWidth = 1;
      ctx.strokeStyle = "#2e7d32";
      ctx.fillStyle = "rgba(200,230,201,0.8)";
      for (const fence of data.fences) {
        ctx.beginPath();
        if (fence.circle) {
          const [lon, lat, r] = fence.circle;
          const [x, y] = toPx(lon, lat);
          ctx.arc(x, y, Math.max(r / 111320 * view.k, 1), 0, 2 * Math.PI);
        } else {
          for (const ring of fence.rings) {
            ring.forEach(([lon, lat], i) => {
              const [x, y] = toPx(lon, lat);
              if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
            });
            ctx.closePath();
          }
        }
        ctx.fill("evenodd");
        ctx.stroke();
      }
    }
    scaleBar();
  };

  const scaleBar = () => {
    const metresPerPx = 111320 / view.k;
    const target = metresPerPx * W / 5;
    const mag = Math.pow(10, Math.floor(Math.log10(target)));
    const bar = [5, 2, 1].map((m) => m * mag).find((m) => m <= target) || mag;
    const px = bar / metresPerPx;
    ctx.fillStyle = "#1d2327";
    ctx.fillRect(12, H - 16, px, 3);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(bar >= 1000 ? `${bar / 1000} km` : `${bar} m`, 12, H - 22);
  };

  const load = () => {
    const box = bbox();
    const mine = ++generation;
    const query = new URLSearchParams({ w: box.w, s: box.s, e: box.e, n: box.n });
    fetch(`/sites/fences?${query}`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((answer) => {
        if (mine !== generation) return; // a newer view is on its way
        answer.box = box;
        data = answer;
        draw();
        const now = performance.now();
        canvas.dataset.lastMs = (now - inputAt).toFixed(1);
        if (first) {
          canvas.dataset.firstMs = now.toFixed(1);
          first = false;
        }
        canvas.dataset.kind = answer.kind;
        canvas.dataset.total = answer.total;
        canvas.dataset.loads = String(Number(canvas.dataset.loads || 0) + 1);
        status.textContent = answer.kind === "counts"
          ? `${answer.total} fences in view: fences per cell shown; zoom in to see outlines.`
          : `${answer.total} fences in view.`;
      })
      .catch((e) => { status.textContent = `Could not load fences: ${e.message}`; });
  };

  const changed = () => {
    inputAt = performance.now();
    draw(); // at once, with what is loaded
    clearTimeout(pending);
    pending = setTimeout(load, 80);
  };
  const zoom = (factor) => { view.k *= factor; changed(); };
  const pan = (dxPx, dyPx) => {
    view.cx -= dxPx / (view.k * cosLat());
    view.cy += dyPx / view.k;
    changed();
  };

  let dragging = null;
  canvas.addEventListener("pointerdown", (e) => { dragging = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!dragging) return;
    const scale = W / canvas.getBoundingClientRect().width;
    pan((e.clientX - dragging[0]) * scale, (e.clientY - dragging[1]) * scale);
    dragging = [e.clientX, e.clientY];
  });
  canvas.addEventListener("pointerup", () => { dragging = null; });
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoom(e.deltaY < 0 ? 1.25 : 0.8); }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const step = 80;
    const keys = {
      ArrowLeft: () => pan(step, 0), ArrowRight: () => pan(-step, 0),
      ArrowUp: () => pan(0, step), ArrowDown: () => pan(0, -step),
      "+": () => zoom(1.5), "=": () => zoom(1.5), "-": () => zoom(1 / 1.5),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  document.getElementById("zoom-in").addEventListener("click", () => zoom(1.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1 / 1.5));
  document.getElementById("zoom-all").addEventListener("click", () => { fitAll(); changed(); });

  fitAll();
  load();
})();
