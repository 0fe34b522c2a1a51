// The binary operation of elementwise_binary*.wgsl on element type V (f32 or vec4f,
// aliased by ops/elementwise.ts).
override OP: u32 = 0u;   // 0 add, 1 sub, 2 mul, 3 div

fn applyOp(x: V, y: V) -> V {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    default: { return x / y; }
  }
}
