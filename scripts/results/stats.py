"""Intervals for success rates, shared by the scripts that print docs/results.md tables."""
import math


def wilson(k, n, z=1.959964):
    """Wilson 95% interval of k successes in n episodes (nan, nan when n is 0)."""
    if n == 0:
        return (float('nan'),) * 2
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def newcombe(k1, n1, k2, n2):
    """The difference of two rates, k1/n1 - k2/n2, with Newcombe's 95% interval (hybrid Wilson)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
