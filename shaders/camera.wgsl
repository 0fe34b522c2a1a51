// Batch ray-caster for the policy's observation cameras (DESIGN.md 5): one invocation
// per pixel, many environments and cameras per dispatch, over the scene's MuJoCo
// primitives. Lambert + ambient shading with one directional light and hard shadows.
// src/sim/camera/reference.ts mirrors this file line for line; keep them in step.

struct Params {
  width: u32,
  height: u32,
  n_geoms: u32,   // geoms per environment (padded with type NONE)
  n_cams: u32,    // cameras per environment
  n_envs: u32,
  step: u32,      // frame counter that seeds the sensor noise
  _pad0: u32,
  _pad1: u32,
};

// Per geom, 5 x vec4: (pos, type), (row0, size.x), (row1, size.y), (row2, size.z),
// (rgb, bounding radius; 0 = unbounded)
struct Geom {
  pos_type: vec4<f32>,
  r0: vec4<f32>,
  r1: vec4<f32>,
  r2: vec4<f32>,
  rgb: vec4<f32>,
};

// Per camera: (pos, tan(fovy/2)), (forward, 0), (right, 0), (up, 0)
struct Camera {
  pos_tan: vec4<f32>,
  fwd: vec4<f32>,
  right: vec4<f32>,
  up: vec4<f32>,
};

// Per environment: (light dir toward the light, intensity), (ambient, bg rgb),
// (noise std in [0,1] units, noise seed as bits, 0, 0)
struct Env {
  light: vec4<f32>,
  amb_bg: vec4<f32>,
  noise: vec4<f32>,
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> geoms: array<Geom>;
@group(0) @binding(2) var<storage, read> cams: array<Camera>;
@group(0) @binding(3) var<storage, read> envs: array<Env>;
@group(0) @binding(4) var<storage, read_write> out_px: array<u32>;

const T_MAX: f32 = 1e9;
const G_PLANE: f32 = 0.0;
const G_SPHERE: f32 = 2.0;
const G_CAPSULE: f32 = 3.0;
const G_CYLINDER: f32 = 5.0;
const G_BOX: f32 = 6.0;

struct Hit {
  t: f32,
  n: vec3<f32>,   // local-frame normal
};

fn no_hit() -> Hit {
  return Hit(T_MAX, vec3<f32>(0.0, 0.0, 1.0));
}

fn hit_plane(o: vec3<f32>, d: vec3<f32>) -> Hit {
  if (abs(d.z) < 1e-9) { return no_hit(); }
  let t = -o.z / d.z;
  if (t <= 0.0) { return no_hit(); }
  return Hit(t, vec3<f32>(0.0, 0.0, 1.0));
}

fn hit_sphere(o: vec3<f32>, d: vec3<f32>, r: f32) -> Hit {
  let b = dot(o, d);
  let c = dot(o, o) - r * r;
  let disc = b * b - c;
  if (disc < 0.0) { return no_hit(); }
  let s = sqrt(disc);
  var t = -b - s;
  if (t <= 0.0) { t = -b + s; }
  if (t <= 0.0) { return no_hit(); }
  return Hit(t, (o + t * d) / r);
}

fn hit_box(o: vec3<f32>, d: vec3<f32>, h: vec3<f32>) -> Hit {
  var tmin = -T_MAX;
  var tmax = T_MAX;
  var n = vec3<f32>(0.0, 0.0, 1.0);
  for (var a = 0u; a < 3u; a = a + 1u) {
    if (abs(d[a]) < 1e-9) {
      if (abs(o[a]) > h[a]) { return no_hit(); }
    } else {
      let inv = 1.0 / d[a];
      var t1 = (-h[a] - o[a]) * inv;
      var t2 = (h[a] - o[a]) * inv;
      var sgn = -1.0;
      if (t1 > t2) { let tmp = t1; t1 = t2; t2 = tmp; sgn = 1.0; }
      if (t1 > tmin) {
        tmin = t1;
        n = vec3<f32>(0.0, 0.0, 0.0);
        n[a] = sgn;
      }
      tmax = min(tmax, t2);
      if (tmin > tmax) { return no_hit(); }
    }
  }
  if (tmin <= 0.0) { return no_hit(); }
  return Hit(tmin, n);
}

// Infinite cylinder side (radius r, axis z) clipped to |z| <= h, plus the two caps.
fn hit_cylinder(o: vec3<f32>, d: vec3<f32>, r: f32, h: f32) -> Hit {
  var best = no_hit();
  let a = d.x * d.x + d.y * d.y;
  if (a > 1e-12) {
    let b = o.x * d.x + o.y * d.y;
    let c = o.x * o.x + o.y * o.y - r * r;
    let disc = b * b - a * c;
    if (disc >= 0.0) {
      let t = (-b - sqrt(disc)) / a;
      let z = o.z + t * d.z;
      if (t > 0.0 && abs(z) <= h) {
        let p = o + t * d;
        best = Hit(t, vec3<f32>(p.x / r, p.y / r, 0.0));
      }
    }
  }
  if (abs(d.z) > 1e-9) {
    for (var k = 0u; k < 2u; k = k + 1u) {
      let zc = select(-h, h, k == 1u);
      let t = (zc - o.z) / d.z;
      let p = o + t * d;
      if (t > 0.0 && t < best.t && p.x * p.x + p.y * p.y <= r * r) {
        best = Hit(t, vec3<f32>(0.0, 0.0, select(-1.0, 1.0, k == 1u)));
      }
    }
  }
  return best;
}

fn hit_capsule(o: vec3<f32>, d: vec3<f32>, r: f32, h: f32) -> Hit {
  var best = no_hit();
  let a = d.x * d.x + d.y * d.y;
  if (a > 1e-12) {
    let b = o.x * d.x + o.y * d.y;
    let c = o.x * o.x + o.y * o.y - r * r;
    let disc = b * b - a * c;
    if (disc >= 0.0) {
      let t = (-b - sqrt(disc)) / a;
      let z = o.z + t * d.z;
      if (t > 0.0 && abs(z) <= h) {
        let p = o + t * d;
        best = Hit(t, vec3<f32>(p.x / r, p.y / r, 0.0));
      }
    }
  }
  for (var k = 0u; k < 2u; k = k + 1u) {
    let cz = select(-h, h, k == 1u);
    let s = hit_sphere(o - vec3<f32>(0.0, 0.0, cz), d, r);
    if (s.t < best.t) { best = s; }
  }
  return best;
}

fn hit_geom(g: Geom, ro: vec3<f32>, rd: vec3<f32>) -> Hit {
  let typ = g.pos_type.w;
  let rel = ro - g.pos_type.xyz;
  // Bounding-sphere rejection first: most rays pass far from most geoms.
  let br = g.rgb.w;
  if (br > 0.0) {
    let b = dot(rel, rd);
    let c = dot(rel, rel) - br * br;
    if (c > 0.0 && (b > 0.0 || b * b - c < 0.0)) { return no_hit(); }
  }
  // Local frame: rows of the rotation matrix are the world axes in local coordinates
  // transposed, i.e. local = R^T * world, and R^T's rows are R's columns.
  let c0 = vec3<f32>(g.r0.x, g.r1.x, g.r2.x);
  let c1 = vec3<f32>(g.r0.y, g.r1.y, g.r2.y);
  let c2 = vec3<f32>(g.r0.z, g.r1.z, g.r2.z);
  let o = vec3<f32>(dot(c0, rel), dot(c1, rel), dot(c2, rel));
  let d = vec3<f32>(dot(c0, rd), dot(c1, rd), dot(c2, rd));
  let size = vec3<f32>(g.r0.w, g.r1.w, g.r2.w);
  var h = no_hit();
  if (typ == G_PLANE) { h = hit_plane(o, d); }
  else if (typ == G_SPHERE) { h = hit_sphere(o, d, size.x); }
  else if (typ == G_CAPSULE) { h = hit_capsule(o, d, size.x, size.y); }
  else if (typ == G_CYLINDER) { h = hit_cylinder(o, d, size.x, size.y); }
  else if (typ == G_BOX) { h = hit_box(o, d, size); }
  if (h.t < T_MAX) {
    // Back to world: n_world = R * n_local.
    h.n = vec3<f32>(dot(g.r0.xyz, h.n), dot(g.r1.xyz, h.n), dot(g.r2.xyz, h.n));
  }
  return h;
}

fn hash_u32(x0: u32) -> u32 {
  var x = x0;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}

fn uniform01(h: u32) -> f32 {
  return f32(h >> 8u) / 16777216.0;
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  let view = gid.z;  // env * n_cams + cam
  if (x >= P.width || y >= P.height || view >= P.n_envs * P.n_cams) { return; }
  let env = view / P.n_cams;
  let cam = cams[view];
  let E = envs[env];
  let aspect = f32(P.width) / f32(P.height);
  let th = cam.pos_tan.w;
  let u = ((f32(x) + 0.5) / f32(P.width) * 2.0 - 1.0) * th * aspect;
  let v = (1.0 - (f32(y) + 0.5) / f32(P.height) * 2.0) * th;
  let rd = normalize(cam.fwd.xyz + u * cam.right.xyz + v * cam.up.xyz);
  let ro = cam.pos_tan.xyz;

  let base = env * P.n_geoms;
  var best_t = T_MAX;
  var best_n = vec3<f32>(0.0, 0.0, 1.0);
  var best_g = 0u;
  for (var i = 0u; i < P.n_geoms; i = i + 1u) {
    let h = hit_geom(geoms[base + i], ro, rd);
    if (h.t < best_t) { best_t = h.t; best_n = h.n; best_g = i; }
  }
  var col = E.amb_bg.yzw;
  if (best_t < T_MAX) {
    var n = normalize(best_n);
    if (dot(n, rd) > 0.0) { n = -n; }
    let p = ro + best_t * rd;
    let L = E.light.xyz;
    var lambert = max(dot(n, L), 0.0);
    if (lambert > 0.0) {
      let so = p + n * 1e-3;
      for (var i = 0u; i < P.n_geoms; i = i + 1u) {
        if (geoms[base + i].pos_type.w == G_PLANE) { continue; }
        let hs = hit_geom(geoms[base + i], so, L);
        if (hs.t < T_MAX) { lambert = 0.0; break; }
      }
    }
    col = geoms[base + best_g].rgb.xyz * (E.amb_bg.x + E.light.w * lambert);
  }
  let sigma = E.noise.x;
  var rgb = vec3<u32>(0u, 0u, 0u);
  for (var c = 0u; c < 3u; c = c + 1u) {
    var val = col[c];
    if (sigma > 0.0) {
      // Sum of four uniforms: a near-Gaussian that needs no transcendental functions,
      // so the TypeScript reference reproduces it bit for bit.
      let key = bitcast<u32>(E.noise.y) ^ (P.step * 0x9e3779b9u) ^ (view * 0x85ebca6bu);
      var hsh = hash_u32(key ^ hash_u32((y * P.width + x) * 3u + c));
      var s = 0.0;
      for (var k = 0u; k < 4u; k = k + 1u) {
        hsh = hash_u32(hsh + k);
        s = s + uniform01(hsh);
      }
      val = val + sigma * (s - 2.0) * 1.7320508;
    }
    rgb[c] = u32(clamp(val, 0.0, 1.0) * 255.0 + 0.5);
  }
  let idx = (view * P.height + y) * P.width + x;
  out_px[idx] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (255u << 24u);
}
