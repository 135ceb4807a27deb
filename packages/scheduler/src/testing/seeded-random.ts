import { seededRandom as uniform } from '@ignis/tensor';

/** A seeded generator of integers in [0, n), so a failing run replays. */
export function seededRandom(seed: number): (n: number) => number {
  const next = uniform(seed);
  return (n) => Math.floor(next() * n);
}
