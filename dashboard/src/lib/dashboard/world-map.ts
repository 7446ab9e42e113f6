/**
 * Country shapes for the Locations panel's map: Natural Earth's 1:110m countries as the world-atlas
 * package ships them (TopoJSON; ISC, the data public domain), decoded and drawn in the Equal Earth
 * projection here. Only CountryMap.svelte imports this, and LazyCountryMap imports that when the
 * map nears the screen, so the shapes (≈39 KB gzipped) never weigh on the first load; nothing is
 * fetched from another origin.
 */
import topologyText from 'world-atlas/countries-110m.json?raw';

/** One country: its ISO 3166-1 alpha-2 code (as Cloudflare's edge gives it) and its SVG path. */
export interface CountryShape {
  code: string;
  d: string;
}

/** The map: its viewBox, the outline of the globe, and the countries (Antarctica left out). */
export interface WorldMap {
  viewBox: string;
  outline: string;
  countries: CountryShape[];
}

interface Topology {
  transform: { scale: [number, number]; translate: [number, number] };
  arcs: [number, number][][];
  objects: {
    countries: {
      geometries: {
        type: 'Polygon' | 'MultiPolygon';
        id?: string;
        arcs: number[][] | number[][][];
        properties: { name: string };
      }[];
    };
  };
}

/**
 * ISO 3166-1 numeric → alpha-2, for the countries world-atlas draws (its ids are numeric): five
 * characters each, three digits and two letters.
 */
const ALPHA2 =
  '004AF008AL010AQ012DZ024AO031AZ032AR036AU040AT044BS050BD051AM056BE064BT068BO070BA072BW076BR084BZ090SB096BN100BG104MM108BI112BY116KH120CM124CA140CF144LK148TD152CL156CN158TW170CO178CG180CD188CR191HR192CU196CY203CZ204BJ208DK214DO218EC222SV226GQ231ET232ER233EE238FK242FJ246FI250FR260TF262DJ266GA268GE270GM275PS276DE288GH300GR304GL320GT324GN328GY332HT340HN348HU352IS356IN360ID364IR368IQ372IE376IL380IT384CI388JM392JP398KZ400JO404KE408KP410KR414KW417KG418LA422LB426LS428LV430LR434LY440LT442LU450MG454MW458MY466ML478MR484MX496MN498MD499ME504MA508MZ512OM516NA524NP528NL540NC548VU554NZ558NI562NE566NG578NO586PK591PA598PG600PY604PE608PH616PL620PT624GW626TL630PR634QA642RO643RU646RW682SA686SN688RS694SL703SK704VN705SI706SO710ZA716ZW724ES728SS729SD732EH740SR748SZ752SE756CH760SY762TJ764TH768TG780TT784AE788TN792TR795TM800UG804UA807MK818EG826GB834TZ840US854BF858UY860UZ862VE887YE894ZM';

/**
 * Shapes world-atlas draws without an ISO code, under the code Cloudflare's edge gives their
 * visitors (it names no unrecognised states).
 */
const BY_NAME: Record<string, string> = { Kosovo: 'XK', 'N. Cyprus': 'CY', Somaliland: 'SO' };

const SCALE = 180;
const [A1, A2, A3, A4] = [1.340264, -0.081106, 0.000893, 0.003796];
const M = Math.sqrt(3) / 2;

/** Equal Earth (Šavrič, Patterson & Jenny 2018): an equal-area projection, so areas compare fairly. */
function project(lon: number, lat: number): [number, number] {
  const lambda = (lon * Math.PI) / 180;
  const theta = Math.asin(M * Math.sin((lat * Math.PI) / 180));
  const t2 = theta * theta;
  const t6 = t2 * t2 * t2;
  const x = (lambda * Math.cos(theta)) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)));
  const y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
  return [x * SCALE, -y * SCALE];
}

const round = (value: number) => Math.round(value * 10) / 10;

function pathOf(points: [number, number][]): string {
  return `M${points.map(([lon, lat]) => project(lon, lat).map(round).join(',')).join('L')}Z`;
}

/**
 * A ring's longitudes made continuous: Russia and Fiji cross the antimeridian, where the data jumps
 * from 180 to −180. Such a ring is drawn twice, 360° apart, and the outline clips what falls off.
 */
function unwrap(ring: [number, number][]): [number, number][][] {
  let shift = 0;
  const out = ring.map(([lon, lat], index): [number, number] => {
    const previous = ring[index - 1];
    if (previous) {
      if (lon - previous[0] > 180) shift -= 360;
      else if (previous[0] - lon > 180) shift += 360;
    }
    return [lon + shift, lat];
  });
  const lons = out.map(([lon]) => lon);
  if (Math.max(...lons) > 180) return [out, out.map(([lon, lat]) => [lon - 360, lat])];
  if (Math.min(...lons) < -180) return [out, out.map(([lon, lat]) => [lon + 360, lat])];
  return [out];
}

let cached: WorldMap | null = null;

/** The map, built on first use (decoding takes a few milliseconds). */
export function worldMap(): WorldMap {
  if (cached) return cached;
  const topology = JSON.parse(topologyText) as Topology;
  const {
    scale: [sx, sy],
    translate: [tx, ty],
  } = topology.transform;
  // TopoJSON arcs are delta-encoded and quantised.
  const arcs = topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]): [number, number] => {
      x += dx;
      y += dy;
      return [x * sx + tx, y * sy + ty];
    });
  });
  const arcAt = (index: number) => (index < 0 ? [...(arcs[~index] ?? [])].reverse() : (arcs[index] ?? []));
  const ringOf = (indexes: number[]) => indexes.flatMap((index, k) => (k ? arcAt(index).slice(1) : arcAt(index)));

  const alpha2 = new Map<string, string>();
  for (let at = 0; at < ALPHA2.length; at += 5) alpha2.set(ALPHA2.slice(at, at + 3), ALPHA2.slice(at + 3, at + 5));

  const countries: CountryShape[] = [];
  let top = 0;
  let bottom = 0;
  for (const geometry of topology.objects.countries.geometries) {
    const code = (geometry.id && alpha2.get(geometry.id)) || BY_NAME[geometry.properties.name];
    if (!code || code === 'AQ') continue;
    const polygons = (geometry.type === 'Polygon' ? [geometry.arcs] : geometry.arcs) as number[][][];
    const rings = polygons.flatMap((polygon) => polygon.flatMap((ring) => unwrap(ringOf(ring))));
    for (const ring of rings) {
      for (const [lon, lat] of ring) {
        const y = project(Math.max(-180, Math.min(180, lon)), lat)[1];
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
    countries.push({ code, d: rings.map(pathOf).join('') });
  }

  const edge: [number, number][] = [];
  for (let lat = -90; lat <= 90; lat += 5) edge.push([180, lat]);
  for (let lat = 90; lat >= -90; lat -= 5) edge.push([-180, lat]);
  const [right] = project(180, 0);
  const pad = 4;
  cached = {
    viewBox: [-right - pad, top - pad, 2 * (right + pad), bottom - top + 2 * pad].map(round).join(' '),
    outline: pathOf(edge),
    countries,
  };
  return cached;
}
