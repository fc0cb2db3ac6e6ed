// The city map: districts are drawn by the server (no map tiles: no map server is reachable);
// this places the emergency departments, the ambulance and the route with the same projection
// (equirectangular, x scaled by cos(latitude); see emergency_pages.city_map).
import { el } from "./common.js";

export class CityMap {
  constructor(svg, onPick) {
    this.svg = svg;
    this.p = JSON.parse(svg.dataset.projection);
    this.layers = {
      route: svg.querySelector("#map-route"),
      facilities: svg.querySelector("#map-facilities"),
      ambulance: svg.querySelector("#map-ambulance"),
    };
    this.facilities = [];
    this.ranked = new Map(); // facility id -> {rank, fallback}
    this.refused = new Set();
    this.chosen = null;
    this.ambulance = null;
    svg.addEventListener("click", (event) => {
      const point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      const local = point.matrixTransform(svg.getScreenCTM().inverse());
      onPick(this.unproject(local.x, local.y));
    });
  }

  project(lat, lon) {
    return [(lon - this.p.lon_min) * this.p.kx, (this.p.lat_max - lat) * this.p.ky];
  }

  unproject(x, y) {
    return { lat: this.p.lat_max - y / this.p.ky, lon: this.p.lon_min + x / this.p.kx };
  }

  setFacilities(facilities) { this.facilities = facilities; this.draw(); }
  setRanked(recommendations) {
    this.ranked = new Map(recommendations.map((r, i) => [r.facility_id, { rank: i + 1, fallback: !(r.meets_need && r.within_window) }]));
    this.draw();
  }
  setRefused(ids) { this.refused = new Set(ids); this.draw(); }
  setChosen(id) { this.chosen = id; this.draw(); }
  setAmbulance(lat, lon) { this.ambulance = { lat, lon }; this.draw(); }

  draw() {
    const { route, facilities, ambulance } = this.layers;
    route.replaceChildren();
    facilities.replaceChildren();
    ambulance.replaceChildren();
    // unranked first so that ranked markers sit on top
    const order = [...this.facilities].sort((a, b) => (this.ranked.has(a.facility_id) ? 1 : 0) - (this.ranked.has(b.facility_id) ? 1 : 0));
    for (const f of order) facilities.append(this.marker(f));
    if (this.ambulance) {
      const [x, y] = this.project(this.ambulance.lat, this.ambulance.lon);
      const target = this.facilities.find((f) => f.facility_id === (this.chosen || [...this.ranked.entries()].find(([, v]) => v.rank === 1)?.[0]));
      if (target) {
        const [tx, ty] = this.project(target.latitude, target.longitude);
        route.append(el("line", { class: "route", x1: x, y1: y, x2: tx, y2: ty }));
      }
      ambulance.append(el("polygon", { class: "ambulance", id: "ambulance-marker", points: `${x},${y - 11} ${x - 10},${y + 8} ${x + 10},${y + 8}` }));
    }
  }

  marker(f) {
    const [x, y] = this.project(f.latitude, f.longitude);
    const ranked = this.ranked.get(f.facility_id);
    const classes = ["facility"];
    if (ranked) classes.push("ranked");
    if (ranked?.fallback) classes.push("fallback");
    if (this.refused.has(f.facility_id)) classes.push("refused");
    if (this.chosen === f.facility_id) classes.push("chosen");
    const group = el("g", { dataset: { facilityId: f.facility_id } },
      el("title", { text: f.name }),
      el("circle", { class: classes.join(" "), cx: x, cy: y, r: ranked ? 12 : 6 }));
    if (ranked) {
      group.append(el("text", { class: "label", x, y, text: String(ranked.rank) }));
      const right = x < this.svg.viewBox.baseVal.width * 0.72; // names near the east edge go left
      group.append(el("text", { class: `name${right ? "" : " left"}`, x: right ? x + 15 : x - 15, y: y + 4, text: f.name }));
    }
    return group;
  }
}
