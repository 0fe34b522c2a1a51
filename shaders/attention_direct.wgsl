// Shared by the direct (barrier-free) attention kernels, prepended after
// attention_common.wgsl; they step through a tile four rows at a time.

// Rows j .. j + 3 of head h: their indices (past the end in a tail), the clamped indices
// the reads use (the mask drops the rows past the end), token words and vec4 offsets.
struct Quad { idx: vec4u, at: vec4u, tok: vec4u, base: vec4u }

fn quad(j: u32, h: u32) -> Quad {
  let idx = vec4u(j, j + 1u, j + 2u, j + 3u);
  let at = min(idx, vec4u(p.n - 1u));
  let tok = vec4u(bmap[p.tokens + at.x], bmap[p.tokens + at.y], bmap[p.tokens + at.z], bmap[p.tokens + at.w]);
  return Quad(idx, at, tok, (at * p.heads + h) * (HEAD_DIM / 4u));
}
