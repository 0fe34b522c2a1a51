/**
 * Line templates for the software-adapter ('direct') kernels. WGSL has no macros, and
 * on SwiftShader a private array indexed by a loop variable lives in per-lane memory,
 * so those kernels keep their blocks in named vec4 registers (acc0_0, acc0_1, ...) and
 * spell every statement out per register. unroll() writes the copies: each line that
 * holds a placeholder `$x` is repeated once per value 0..count-1 of x, with the value in
 * place of `$x` (`$x/4` and `$x%4` give its quotient and remainder by 4, to address the
 * components of a vec4 that packs four of them). Placeholders expand in the order given,
 * the first outermost, so with `{ c: 8, r: 4 }` the copies of a line come c by c and,
 * within each c, r by r.
 */
export function unroll(src: string, counts: Record<string, number>): string {
  let lines = src.split('\n');
  for (const [name, count] of Object.entries(counts)) {
    const key = `$${name}`;
    lines = lines.flatMap((line) => {
      if (!line.includes(key)) return [line];
      return Array.from({ length: count }, (_, i) =>
        line
          .replaceAll(`${key}/4`, String(Math.floor(i / 4)))
          .replaceAll(`${key}%4`, String(i % 4))
          .replaceAll(key, String(i)),
      );
    });
  }
  return lines.join('\n');
}
