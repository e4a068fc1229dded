"""达标方案: the cheapest additions after which a county passes the resource part.

For each county whose resource part fails, and each level, the plan chooses what to add to
each unit (school section or teaching point) so that

- every unit meets the school rule: all but ``allowed_misses`` (1) of the seven at their
  threshold, the missed one at ``floor_share`` (85%) of it or more; and
- each of the seven CVs is at or under its ceiling (0.50 primary, 0.45 junior),

at the least cost. Additions only: nothing is taken from a school and no student moves.

How (the reasoning a reader needs to trust it):

1. **Per indicator, given each unit's lower bound, the cheapest way to bring the CV under its
   ceiling is water-filling**: raise the lowest units to one common level L and leave the
   others. With y the per-student values and w the enrolments, CV ≤ c is the second-order
   cone ‖diag(√w)·y‖ ≤ √(1+c²)·(w·y)/√W, so min Σ wᵢ(yᵢ − xᵢ) over y ≥ b inside it is a
   convex problem, and its KKT conditions say every raised unit ends at the same value L
   and every other unit is at or above L. CV falls as L rises, so the least L is the root
   of a quadratic on the segment between two sorted bounds (:func:`water_levels`).
2. **The school rule leaves one choice per unit**: which indicator it may miss (exempt). A
   unit's bounds are its threshold on the others and the floor on the exempted one. When an
   indicator's CV stays under its ceiling whatever the exemptions (checked by a bound that
   holds for every choice at once), its cost is separable and each unit picks the exemption
   that saves most on its own. The remaining choices, those that touch an indicator whose
   CV is binding, are searched exhaustively when there are few (the result is then proven
   the cheapest), and by local search otherwise (``proven_cheapest`` is then false).
3. **Whole teachers and rooms, shared facilities.** Teachers round up per section. A
   combined school's facilities are shared between its sections by weighted enrolment, so a
   section that needs A gets it only if the whole school adds A / share; rooms round up at
   the school. Rounding and sharing only add, so the school rule holds; the CVs are
   rechecked and, where one broke, water-filled again from the new values, until all hold.

Costs are weighed for the choice as capital + recurring × ``recurring_years_for_choice``
(policy); the totals report capital and recurring separately and never add them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from junheng import plan_cache
from junheng.contract import RESOURCES

K = len(RESOURCES)
EXHAUSTIVE_UNITS = 6           # open units (whose exemption touches a binding CV) searched exhaustively
EXHAUSTIVE_COMBINATIONS = 256  # ... or this many combinations of their exemptions
SETTLE_ROUNDS = 8
REPAIR_ROUNDS = 30


# ---- 1. water-filling ---------------------------------------------------------------------------
# A national year asks for tens of thousands of small fills (one per county, level and indicator,
# and many more in the searches); numpy costs per call what it costs per value, so the fills are
# asked for in batches: one row per fill, each row with its own enrolments and ceiling. A row's
# result does not depend on the rows beside it, nor on how far it is padded (see group_levels).


def group_cvs(values: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The assessment's CV (population form, enrolment-weighted) of every column of ``values``
    (n, K) over each group of rows (group g: rows starts[g] up to the next start): (G, K)."""
    member = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(weights))))
    total = np.add.reduceat(weights, starts)[:, None]
    mean = np.add.reduceat(weights[:, None] * values, starts, axis=0) / total
    spread = np.sqrt(np.maximum(np.add.reduceat(weights[:, None] * (values - mean[member]) ** 2, starts, axis=0)
                                / total, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean == 0, np.nan, spread / np.where(mean == 0, 1.0, mean))


def water_levels(bounds: np.ndarray, weights: np.ndarray, ceiling: float | np.ndarray) -> np.ndarray:
    """For each row of ``bounds``, the least common level L such that max(bounds, L) has a
    weighted CV ≤ ceiling; -inf where the bounds already pass.

    ``weights`` are the units' enrolments, shared by every row (n,) or a row's own (rows, n);
    ``ceiling`` one for all rows or one per row. Exact: on the segment between two sorted
    bounds the condition E[y²] ≤ (1+c²)·E[y]² is a quadratic in L.
    """
    rows, n = bounds.shape
    levels = np.full(rows, -np.inf)
    if n <= 1:
        return levels
    weights = np.broadcast_to(weights, bounds.shape)
    k2 = np.broadcast_to(1.0 + np.asarray(ceiling, dtype=float) ** 2, (rows,))
    # Most rows pass already (h[0] <= 0 below). That is seen without sorting when it is clear by
    # far more than the sums' rounding; a close call is left to the exact computation, so the
    # result is the same either way.
    total = weights.sum(axis=1)
    m2 = np.einsum("ij,ij->i", bounds * bounds, weights) * total
    m1 = k2 * np.einsum("ij,ij->i", bounds, weights) ** 2
    todo = (~(m2 - m1 <= -1e-9 * m2)).nonzero()[0]
    if len(todo) == 0:
        return levels
    order = np.argsort(bounds[todo], axis=1, kind="stable")
    b = np.take_along_axis(bounds[todo], order, axis=1)
    w = np.take_along_axis(weights[todo], order, axis=1)
    k2 = k2[todo]
    wb, wb2 = w * b, w * b * b
    # at L = b[j], units 0..j-1 are raised to b[j]; the rest keep their bounds (every sum runs
    # in one direction, so units of weight 0 at the end change no bit)
    w_raised = np.zeros_like(w)
    np.cumsum(w[:, :-1], axis=1, out=w_raised[:, 1:])
    W = (w_raised[:, -1] + w[:, -1])[:, None]
    s1 = np.cumsum(wb[:, ::-1], axis=1)[:, ::-1]
    s2 = np.cumsum(wb2[:, ::-1], axis=1)[:, ::-1]
    h = (w_raised * b * b + s2) * W - k2[:, None] * (w_raised * b + s1) ** 2
    rising = (h[:, 0] > 0).nonzero()[0]
    if len(rising) == 0:
        return levels
    todo, h, b, W, k2 = todo[rising], h[rising], b[rising], W[rising, 0], k2[rising]
    j = np.argmax(h <= 0, axis=1)       # h[n-1] < 0 always: all equal gives CV 0
    at = np.arange(len(todo))
    lo, hi = b[at, j - 1], b[at, j]
    wa, t1, t2 = w_raised[rising][at, j], s1[rising][at, j], s2[rising][at, j]
    # wa·W·L² + t2·W − k2·(wa·L + t1)² = 0, decreasing on [lo, hi]
    a = wa * W - k2 * wa * wa
    bq = -2.0 * k2 * wa * t1
    c0 = t2 * W - k2 * t1 * t1
    quadratic = np.abs(a) > 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.where(quadratic, bq * bq - 4 * a * c0, np.nan)
        sq = np.sqrt(disc)                                     # NaN where there is no real root
        root1 = np.where(quadratic, (-bq - sq) / (2 * a), np.where(bq != 0, -c0 / bq, np.nan))
        root2 = np.where(quadratic, (-bq + sq) / (2 * a), np.nan)
    span = np.maximum(hi - lo, np.abs(hi)) * 1e-9
    in1 = (lo - span <= root1) & (root1 <= hi + span)
    in2 = (lo - span <= root2) & (root2 <= hi + span)
    root = np.where(in1 & in2, np.minimum(root1, root2), np.where(in1, root1, root2))
    found = in1 | in2
    levels[todo[found]] = np.minimum(np.maximum(root[found], lo[found]), hi[found])
    for r in (~found).nonzero()[0].tolist():   # a numerically awkward segment: bisection
        levels[todo[r]] = _bisect(float(lo[r]), float(hi[r]), float(wa[r]), float(t1[r]), float(t2[r]),
                                  float(W[r]), float(k2[r]))
    return levels


def _bisect(lo: float, hi: float, wa: float, t1: float, t2: float, W: float, k2: float) -> float:
    def h_at(level: float) -> float:
        return (wa * level * level + t2) * W - k2 * (wa * level + t1) ** 2

    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if h_at(mid) <= 0 else (mid, hi)
    return hi


PAD_CELLS = 1 << 18   # values in one padded batch of fills


def group_levels(bounds: np.ndarray, weights: np.ndarray, starts: np.ndarray, ceilings: np.ndarray,
                 groups: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The water level of column ``columns[r]`` of ``bounds`` (n, K) over the units of group
    ``groups[r]`` (rows starts[g] up to starts[g + 1]), at that group's ceiling, for every r.

    Groups of like size are filled together, each padded to the largest with units of weight 0
    at its highest bound: they sort after its own units and add nothing to any sum, so a
    group's level is the same bits whichever groups share its batch.
    """
    levels = np.full(len(groups), -np.inf)
    counts = np.diff(starts)
    size = counts[groups]
    order = np.argsort(size, kind="stable")
    size = size[order]
    i = 0
    while i < len(order):
        # as many of the next sizes as fit, the last (largest) setting the width
        fits = (np.arange(1, len(order) - i + 1) * size[i:]) <= PAD_CELLS
        j = i + max(1, int(np.argmin(fits)) if not fits.all() else len(fits))
        pick = order[i:j]
        g, k = groups[pick], columns[pick]
        t = np.arange(int(size[j - 1]))[None, :]
        real = t < counts[g][:, None]
        idx = starts[g][:, None] + np.minimum(t, counts[g][:, None] - 1)
        b = bounds[idx, k[:, None]]
        top = np.where(real, b, -np.inf).max(axis=1)
        levels[pick] = water_levels(np.where(real, b, top[:, None]), np.where(real, weights[idx], 0.0),
                                    ceilings[g])
        i = j
    return levels


def fill_costs(values: np.ndarray, bounds: np.ndarray, weights: np.ndarray, ceiling: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: resource added (Σ wᵢ·(yᵢ − xᵢ)) and the values y after raising to the bounds and
    filling."""
    return _raised(values, bounds, weights, water_levels(bounds, weights, ceiling))


def _raised(values: np.ndarray, bounds: np.ndarray, weights: np.ndarray, levels: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, what raising to the bounds and to the row's water level adds, and the values."""
    y = np.maximum(bounds, levels[:, None])
    return (weights * (y - values)).sum(axis=1), y


# ---- 2. the continuous plan of every county and level at once ----------------------------------


@dataclass
class Units:
    """The units of one or more counties, row i one unit. A county's rows are together, and
    within it each level's: a group (county × level) is what a CV is taken over. Settings are
    per unit or per group, so counties of different provinces are planned together."""

    school: np.ndarray          # (n,) physical school (a merged teaching point's parent), as a number
    students: np.ndarray        # (n,)
    share: np.ndarray           # (n,) share of its school's facilities (1 for a one-level school)
    amounts: np.ndarray         # (n, K) resource totals
    thresholds: np.ndarray      # (n, K) per-student thresholds (the indicator's threshold / per)
    prices: np.ndarray          # (n, K) yuan per unit of resource as weighed for the choice
    steps: np.ndarray           # (n, K) rounding step of an addition
    floor_share: np.ndarray     # (n,)
    tolerance: np.ndarray       # (n,)
    group_start: np.ndarray     # (G + 1,) first row of each group, then n
    ceiling: np.ndarray         # (G,)
    allowed_misses: np.ndarray  # (G,)
    county_start: np.ndarray    # (C + 1,) first group of each county, then G

    @property
    def starts(self) -> np.ndarray:
        return self.group_start[:-1]

    @property
    def group_of(self) -> np.ndarray:
        """Each unit's group."""
        return np.repeat(np.arange(len(self.ceiling)), np.diff(self.group_start))


@dataclass
class LevelPlans:
    values: np.ndarray      # (n, K) per-student values planned (before rounding)
    filled: np.ndarray      # (n, K) bool: the value is set by water-filling (a CV), not the school rule
    cost: np.ndarray        # (G,) Σ price × resource added, before rounding
    proven: np.ndarray      # (G,) bool: the cost is proven the cheapest
    gap: np.ndarray         # (G,) the cost is at most this share above the cheapest (0 when proven)


def solve_levels(u: Units) -> LevelPlans:
    """The cheapest continuous plan of every group (county × level) of ``u``."""
    starts, member = u.starts, u.group_of
    G = len(starts)
    w = u.students.astype(float)
    x = u.amounts / w[:, None]
    full = np.maximum(x, u.thresholds)
    relaxed = np.maximum(x, u.floor_share[:, None] * u.thresholds)
    below = x < u.thresholds * (1 - u.tolerance[:, None])
    saving = u.prices * w[:, None] * (full - relaxed)          # what exempting (i, k) saves

    # Indicators whose CV stays under the ceiling for every choice: cost is separable there.
    # E[y²] ≤ E[full²] and E[y] ≥ E[relaxed] for every choice, so the bound covers them all.
    lo = np.where(below, relaxed, full)
    total = np.add.reduceat(w, starts)[:, None]
    separable = ((np.diff(u.group_start) <= 1)[:, None]
                 | (np.add.reduceat(w[:, None] * full * full, starts, axis=0) * total
                    <= (1 + u.ceiling * u.ceiling)[:, None] * np.add.reduceat(w[:, None] * lo, starts, axis=0) ** 2))
    no_fill = separable.copy()   # these CVs are under their ceilings whatever the choice

    # A binding indicator whose water level, with every unit held to its full threshold, is at
    # or above that threshold lifts every unit below it anyway: exempting a unit there saves
    # nothing (its bound does not bind, so lowering it changes no optimum). Its cost is then a
    # constant, and its exemptions are worth zero.
    highest_below = np.maximum.reduceat(np.where(below, full, -np.inf), starts, axis=0)
    g, k = (~separable & (highest_below > -np.inf)).nonzero()
    lifted = group_levels(full, w, u.group_start, u.ceiling, g, k) >= highest_below[g, k] * (1 - 1e-12)
    separable[g[lifted], k[lifted]] = True
    worthless = np.zeros((G, K), dtype=bool)
    worthless[g[lifted], k[lifted]] = True
    saving[worthless[member]] = 0.0

    # Each unit below a threshold chooses which indicators to miss. It keeps its best option
    # among the separable ones, and every option that touches a binding indicator; a unit left
    # with one option is decided, the others are open for the search.
    exempt, opened, options = _choices(below, separable[member], saving, u.allowed_misses[member])

    # The remaining choices, where an indicator's CV binds: few are tried in full, group by
    # group; the others are settled by local search, every group's step at once.
    keep = ~separable.all(axis=1)[member[opened]]
    opened, options = opened[keep], options[keep]
    proven, below_cost = np.ones(G, dtype=bool), np.zeros(G)
    runs = plan_cache.runs(member[opened])
    counts = (options[:, :, 0] >= 0).sum(axis=1).tolist()
    settled = []
    for c, d in runs:
        g_ = int(member[opened[c]])
        if d - c > EXHAUSTIVE_UNITS and math.prod(counts[c:d]) > EXHAUSTIVE_COMBINATIONS:
            settled.append((c, d))
            continue
        a, b = (int(v) for v in u.group_start[g_:g_ + 2])
        local = (opened[c:d] - a).tolist()
        choice = [tuple(row.nonzero()[0].tolist()) for row in exempt[a:b]]
        binding = [k for k in range(K) if not separable[g_, k]]
        choice = _exhaustive(choice, local, dict(zip(local, _option_lists(options[c:d]))), binding, separable[g_],
                             saving[a:b], x[a:b], full[a:b], relaxed[a:b], w[a:b], float(u.ceiling[g_]), u.prices[a])
        for i in local:
            exempt[a + i] = False
            exempt[a + i, list(choice[i])] = True
    if settled:
        rows = np.concatenate([np.arange(c, d) for c, d in settled])
        groups = member[opened[[c for c, _ in settled]]]
        below_cost[groups] = _settle(u, groups, opened[rows], options[rows], exempt, separable, saving, x, full,
                                     relaxed, w)
        proven[groups] = False

    bounds = np.where(exempt, relaxed, full)
    g, k = (~no_fill).nonzero()
    level = np.full((G, K), -np.inf)
    level[g, k] = group_levels(bounds, w, u.group_start, u.ceiling, g, k)
    values = np.maximum(bounds, level[member])
    added = np.add.reduceat(w[:, None] * (values - x), starts, axis=0)
    group_prices = u.prices[starts]
    cost = np.zeros(G)
    for k in range(K):
        cost = cost + group_prices[:, k] * added[:, k]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(proven | (cost <= 0), 0.0, np.maximum(0.0, -below_cost / cost)) + 0.0   # never -0
    return LevelPlans(values, values > bounds * (1 + 1e-12), cost, proven, gap)


def _choices(below, separable, saving, allowed_misses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit's exemptions (n, K), the option that saves most on its own; the open units
    (those left a choice touching a binding indicator), and their options (open unit, option,
    indicator: -1 for none, each unit's options first). ``separable`` is per unit (its group's)."""
    exempt = np.zeros_like(below)
    one = allowed_misses == 1
    # With one miss allowed (the national rule) a unit's options are the separable indicator
    # that saves most and every binding one it is below on; it takes the one that saves most
    # (the first such, in that order).
    sep = below & separable
    coupled = below & ~separable
    has_sep = sep.any(axis=1)
    sep_best = np.where(sep, saving, -np.inf).argmax(axis=1)
    sep_value = np.where(has_sep, saving[np.arange(len(below)), sep_best], -np.inf)
    coupled_value = np.where(coupled, saving, -np.inf)
    take_sep = has_sep & (sep_value >= coupled_value.max(axis=1))
    chosen = np.where(take_sep, sep_best, coupled_value.argmax(axis=1))
    short = (below.any(axis=1) & one).nonzero()[0]
    exempt[short, chosen[short]] = True
    opened = ((has_sep.astype(int) + coupled.sum(axis=1) > 1) & one).nonzero()[0]
    options = np.concatenate([np.where(has_sep[opened], sep_best[opened], -1)[:, None],
                              np.where(coupled[opened], np.arange(K), -1)], axis=1)
    options = np.take_along_axis(options, np.argsort(options < 0, axis=1, kind="stable"), axis=1)[:, :, None]
    # another number of misses (a province's own rule): every combination of that many
    more: dict[int, list[tuple[int, ...]]] = {}
    for i in (below.any(axis=1) & ~one).nonzero()[0].tolist():
        ks = below[i].nonzero()[0].tolist()
        combinations = list(itertools.combinations(ks, min(int(allowed_misses[i]), len(ks))))
        is_sep = separable[i].tolist()

        def own_saving(option: tuple[int, ...], i: int = i) -> float:
            return float(sum(float(saving[i, k]) for k in option))

        sep_options = [o for o in combinations if all(is_sep[k] for k in o)]
        kept = ([max(sep_options, key=own_saving)] if sep_options else []) + [
            o for o in combinations if not all(is_sep[k] for k in o)]
        exempt[i, list(max(kept, key=own_saving))] = True
        if len(kept) > 1:
            more[i] = kept
    if more:
        width = max(options.shape[1], *(len(o) for o in more.values()))
        depth = max(1, *(len(c) for o in more.values() for c in o))
        padded = np.full((len(opened) + len(more), width, depth), -1)
        padded[:len(opened), :options.shape[1], :1] = options
        for j, kept in enumerate(more.values(), start=len(opened)):
            for t, o in enumerate(kept):
                padded[j, t, :len(o)] = o
        opened = np.concatenate([opened, list(more)])
        order = np.argsort(opened, kind="stable")
        opened, options = opened[order], padded[order]
    return exempt, opened, options


def _option_lists(options: np.ndarray) -> list[list[tuple[int, ...]]]:
    """The options of each open unit as tuples of indicators."""
    return [[tuple(k for k in o if k >= 0) for o in opts if o[0] >= 0] for opts in options.tolist()]


def _in_processes(fn, items: list, parallel_from: int) -> list:
    """``[fn(item) for item in items]``, in forked processes (one per core) when there are many."""
    import multiprocessing
    import os

    workers = min(os.cpu_count() or 1, 8)
    if len(items) < parallel_from or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(item) for item in items]
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
    try:
        return pool.map(fn, items, chunksize=max(1, len(items) // (workers * 8)))
    finally:
        # closed, not terminated: a worker that is signalled mid-wait prints a traceback
        pool.close()
        pool.join()


def _default_signals() -> None:
    """A forked worker has its parent's handlers (Dagster's turn a signal into an exception and
    a traceback). Ctrl-C is the parent's to handle; a terminated worker just ends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _exhaustive(choice, open_units, open_options, binding, separable, saving, x, full, relaxed, w, ceiling,
                prices) -> list[tuple[int, ...]]:
    """Choose the open units' exemptions (those that touch an indicator whose CV binds) of one
    group with few choices (at most EXHAUSTIVE_UNITS open units, or EXHAUSTIVE_COMBINATIONS
    combinations): every combination is costed, so the result is proven the cheapest."""
    m, n, nb = len(open_units), len(w), len(binding)
    opened = np.array(open_units)
    options = [open_options[i] for i in open_units]
    width = max(len(o) for o in options)
    # option t of open unit j: whether it relaxes each binding indicator, and what it saves on
    # the separable ones (worked out once, not for every combination tried)
    valid = np.zeros((m, width), dtype=bool)
    relaxes = np.zeros((nb, m, width), dtype=bool)
    saves = np.zeros((m, width))
    slot = {k: b for b, k in enumerate(binding)}
    for j, (i, opts) in enumerate(zip(open_units, options)):
        for t, o in enumerate(opts):
            valid[j, t] = True
            for k in o:
                if separable[k]:
                    saves[j, t] += saving[i, k]
                else:
                    relaxes[slot[k], j, t] = True
    # units decided already relax their own indicators whatever the open ones choose
    decided = np.zeros((nb, n), dtype=bool)
    for i, c in enumerate(choice):
        if c and i not in open_options:
            for k in c:
                if k in slot:
                    decided[slot[k], i] = True
    x_of, full_of, relaxed_of = (np.ascontiguousarray(a.T[binding]) for a in (x, full, relaxed))

    def priced(added) -> float | np.ndarray:
        """The binding indicators' additions (one entry or row each) weighed by their prices,
        summed in order."""
        total = 0.0
        for k, part in zip(binding, added):
            total = total + prices[k] * part
        return total

    def bounds_of(relaxed_open: np.ndarray, b: int | slice = slice(None)) -> np.ndarray:
        """Bounds with the open units ``relaxed_open`` relaxed: every binding indicator's
        (``relaxed_open`` (nb, m) bool → (nb, n)), or indicator b's, one row per row of
        ``relaxed_open`` ((r, m) → (r, n))."""
        lowered = np.broadcast_to(decided[b], (len(relaxed_open), n)).copy()
        lowered[:, opened] |= relaxed_open
        return np.where(lowered, relaxed_of[b], full_of[b])

    def costs(picks: np.ndarray) -> np.ndarray:
        """Cost up to a constant of each row of option indices (one per open unit; m ≤ 8): the
        binding indicators in full, the separable ones by saving. Each distinct set of relaxed
        units of an indicator is filled once."""
        rows = np.arange(m)
        added = []
        for b in range(nb):
            relaxed_open = relaxes[b][rows, picks]
            _, first, which = np.unique(relaxed_open @ (1 << rows), return_index=True, return_inverse=True)
            bounds = bounds_of(relaxed_open[first], b)
            added.append(fill_costs(np.broadcast_to(x_of[b], bounds.shape), bounds, w, ceiling)[0][which])
        saved = 0.0
        for j in range(m):
            saved = saved + saves[j][picks[:, j]]
        return priced(added) - saved

    start = np.array([options[j].index(choice[i]) for j, i in enumerate(open_units)])
    counts = [len(o) for o in options]
    # every combination, in itertools.product's order; the first clearly cheaper than the
    # best so far replaces it (as a loop over them would), starting from the greedy choice
    every = np.indices(counts).reshape(m, -1).T
    cost_of = costs(every)
    best = None
    best_cost = float(cost_of[np.ravel_multi_index(start, counts)])
    after = 0
    while True:
        cheaper = (cost_of[after:] < best_cost - 1e-12 * max(1.0, abs(best_cost))).nonzero()[0]
        if len(cheaper) == 0:
            break
        best = after + int(cheaper[0])
        best_cost, after = float(cost_of[best]), best + 1
    picks = start if best is None else every[best]
    return _chosen(choice, open_units, options, picks)


def _settle(u: Units, groups: np.ndarray, opened: np.ndarray, indicators: np.ndarray, exempt, separable, saving, x,
            full, relaxed, w) -> np.ndarray:
    """Choose the open units' exemptions of the groups with many choices by local search, all
    groups a step at a time: hold each binding indicator's water level fixed, let every open
    unit take the exemption that saves most at those levels, refill, and repeat until the
    choice settles (at most SETTLE_ROUNDS times); the cheapest choice evaluated is kept.

    ``opened`` are the open units (rows, grouped like ``groups``), ``indicators`` their options
    (as :func:`_choices` gives them). Sets their exemptions in ``exempt`` and returns, per group,
    how far below its cost the cheapest choice can at most be (a lower bound: every candidate relaxed on every binding indicator at
    once, each unit saving its most on the separable ones)."""
    member = u.group_of
    g_of = member[opened]
    first = np.concatenate(([0], np.flatnonzero(g_of[1:] != g_of[:-1]) + 1))   # each group's first open unit
    sizes = np.diff(np.append(first, len(opened)))                              # and its number of them
    binding = np.zeros((len(u.ceiling), K), dtype=bool)
    binding[groups] = ~separable[groups]
    _, width, depth = indicators.shape
    # option t of open unit j: whether it is one, and what it saves on the separable ones
    valid = indicators[:, :, 0] >= 0
    k = np.maximum(indicators, 0)
    i3, g3 = opened[:, None, None], g_of[:, None, None]
    on_separable = (indicators >= 0) & separable[g3, k]
    saves = np.zeros((len(opened), width))
    for d in range(depth):
        saves = saves + np.where(on_separable[:, :, d], saving[opened[:, None], k[:, :, d]], 0.0)
    # each unit starts from the option it took on its own (options and exemptions as bit sets)
    bits = np.where(indicators >= 0, 1 << k, 0).sum(axis=2)
    picks = np.argmax(bits == (exempt[opened] * (1 << np.arange(K))).sum(axis=1)[:, None], axis=1)
    cheap = u.prices * w[:, None]
    gk = binding.nonzero()
    group_prices = u.prices[u.starts]

    def levels(lowered: np.ndarray, which: np.ndarray) -> np.ndarray:
        """(G, K) water levels of the binding indicators of the groups ``which`` (a mask)."""
        pick = which[gk[0]]
        out = np.full(binding.shape, -np.inf)
        out[gk[0][pick], gk[1][pick]] = group_levels(np.where(lowered, relaxed, full), w, u.group_start, u.ceiling,
                                                     gk[0][pick], gk[1][pick])
        return out

    def cost(lowered: np.ndarray, level: np.ndarray, saved: np.ndarray) -> np.ndarray:
        """Per group, the binding indicators' additions priced, less ``saved`` (per open unit):
        the cost up to a constant that is the same for every choice."""
        added = np.add.reduceat(w[:, None] * (np.maximum(np.where(lowered, relaxed, full), level[member]) - x),
                                u.starts, axis=0)[groups]
        total = np.zeros(len(groups))
        for k_ in range(K):
            total = total + np.where(binding[groups, k_], group_prices[groups, k_] * added[:, k_], 0.0)
        return total - np.add.reduceat(saved, first)

    def mark(mask: np.ndarray, chosen: np.ndarray) -> None:
        """Set in ``mask`` each open unit's indicators in ``chosen`` (its row of indicators, -1: none)."""
        rows = np.broadcast_to(opened.reshape((-1,) + (1,) * (chosen.ndim - 1)), chosen.shape)
        mask[rows[chosen >= 0], chosen[chosen >= 0]] = True

    def choose(p: np.ndarray) -> None:
        exempt[opened] = False
        mark(exempt, indicators[np.arange(len(opened)), p])

    # the bound: every open unit relaxed on every binding indicator it can miss
    can = np.zeros_like(exempt)
    mark(can, indicators)
    everywhere = np.ones(len(u.ceiling), dtype=bool)
    lowered = exempt | can
    lower = cost(lowered, levels(lowered, everywhere), np.where(valid, saves, -np.inf).max(axis=1))

    choose(picks)
    level = levels(exempt, everywhere)
    best, best_cost = picks.copy(), cost(exempt, level, saves[np.arange(len(opened)), picks])
    active = np.ones(len(groups), dtype=bool)
    for _ in range(SETTLE_ROUNDS):
        # what each option saves with the water levels held
        held = level[g3, k]
        value = np.where(separable[g3, k], saving[i3, k],
                         cheap[i3, k] * (np.maximum(full[i3, k], held) - np.maximum(relaxed[i3, k], held)))
        worth = np.zeros((len(opened), width))
        for d in range(depth):
            worth = worth + np.where(indicators[:, :, d] >= 0, value[:, :, d], 0.0)
        new = np.where(valid, worth, -np.inf).argmax(axis=1)   # the first best, as max() takes
        moved = active & np.logical_or.reduceat(new != picks, first)
        if not moved.any():
            break
        active = moved
        unit_moves = np.repeat(moved, sizes)
        picks = np.where(unit_moves, new, picks)
        choose(picks)
        which = np.zeros(len(u.ceiling), dtype=bool)
        which[groups[moved]] = True
        level = np.where(which[:, None], levels(exempt, which), level)
        c = cost(exempt, level, saves[np.arange(len(opened)), picks])
        better = moved & (c < best_cost)
        best = np.where(np.repeat(better, sizes), picks, best)
        best_cost = np.where(better, c, best_cost)
    choose(best)
    # costs leave out a constant (the same for every choice), so the bound travels as the
    # distance below the chosen cost
    return lower - best_cost


def _chosen(choice, open_units, options, picks) -> list[tuple[int, ...]]:
    """The choice with each open unit's pick (an index into its options) in place."""
    out = list(choice)
    for j, i in enumerate(open_units):
        out[i] = options[j][int(picks[j])]
    return out


# ---- 3. every county: whole teachers and rooms, shared facilities, recheck ------------------------

FACILITY = np.array([r.facility for r in RESOURCES])   # a whole-school figure, shared between sections
REASONS = np.array(["", "school_rule", "cv"])           # what sets an addition, by code


@dataclass
class CountyPlans:
    received: np.ndarray         # (n, K) what each unit's figures rise by
    school_add: np.ndarray       # (n, K) what the unit's whole school adds (facilities; = received for teachers)
    reason: np.ndarray           # (n, K) index into REASONS
    proven_cheapest: np.ndarray  # (C,) bool
    passes: np.ndarray           # (C,) bool
    gap_bound: np.ndarray        # (C,) continuous cost at most this share above the cheapest (0 when proven)


def _round_up(amount: np.ndarray, step: float | np.ndarray) -> np.ndarray:
    return np.ceil(np.maximum(amount, 0) / step - 1e-9) * step


def _additions(u: Units, rows: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the units ``rows`` (whole counties) receive to reach ``target`` per student, and what
    their schools add: teachers round up per section; a facility at the school, for the section
    that needs most."""
    wanted = np.maximum(target[rows] * u.students[rows, None] - u.amounts[rows], 0)
    share = u.share[rows, None]
    by_school = np.argsort(u.school[rows], kind="stable")
    school = u.school[rows][by_school]
    first = np.concatenate(([0], np.flatnonzero(school[1:] != school[:-1]) + 1))
    per_school = np.maximum.reduceat((wanted / share)[by_school], first, axis=0)
    shared = np.empty_like(wanted)
    shared[by_school] = np.repeat(per_school, np.diff(np.append(first, len(rows))), axis=0)
    shared = _round_up(shared, u.steps[rows])
    own = _round_up(wanted, u.steps[rows])
    return np.where(FACILITY, shared * share, own), np.where(FACILITY, shared, own)


def _broken(u: Units, rows: np.ndarray, groups: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """(G', K) bool: the CVs over their ceiling of the groups ``groups`` (rows ``rows``), after
    checking the school rule holds."""
    x = amounts / u.students[rows, None]
    thr, tol = u.thresholds[rows], u.tolerance[rows, None]
    met = (x >= thr * (1 - tol)).sum(axis=1)
    floor_ok = (x >= u.floor_share[rows, None] * thr * (1 - tol)).all(axis=1)
    if not ((met >= K - u.allowed_misses[u.group_of[rows]]) & floor_ok).all():
        raise AssertionError("the plan left a unit below the school rule")
    starts = np.concatenate(([0], np.cumsum(np.diff(u.group_start)[groups])[:-1]))
    cvs = group_cvs(x, u.students[rows].astype(float), starts)
    return ~(cvs <= (u.ceiling[groups] * (1 + u.tolerance[u.group_start[groups]]))[:, None])


def plan_counties(u: Units) -> CountyPlans:
    """Every county's plan: the continuous plan, then whole teachers and rooms and shared
    facilities, rechecked and water-filled again where rounding and sharing broke a CV."""
    n, C = len(u.students), len(u.county_start) - 1
    w = u.students.astype(float)
    x = u.amounts / w[:, None]
    lp = solve_levels(u)
    target = lp.values.copy()      # per-student values the plan aims at
    reason = np.where(lp.filled, 2, np.where(lp.values > x, 1, 0)).astype(np.int8)
    group_county = np.repeat(np.arange(C), np.diff(u.county_start))
    cost = np.bincount(group_county, weights=lp.cost, minlength=C)
    above = np.bincount(group_county, weights=lp.gap * lp.cost, minlength=C)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(cost > 0, above / cost, 0.0)
    proven = np.logical_and.reduceat(lp.proven, u.county_start[:-1]) if C else np.zeros(0, dtype=bool)

    received, school_add = np.zeros((n, K)), np.zeros((n, K))
    passes = np.zeros(C, dtype=bool)
    active = np.arange(C)
    member = u.group_of
    for _ in range(REPAIR_ROUNDS):
        groups = np.concatenate([np.arange(u.county_start[c], u.county_start[c + 1]) for c in active.tolist()])
        rows = np.concatenate([np.arange(u.group_start[g], u.group_start[g + 1]) for g in groups.tolist()])
        received[rows], school_add[rows] = _additions(u, rows, target)
        broken = _broken(u, rows, groups, u.amounts[rows] + received[rows])
        still = np.zeros(C, dtype=bool)
        still[group_county[groups[broken.any(axis=1)]]] = True
        passes[active[~still[active]]] = True
        active = active[still[active]]
        if len(active) == 0:
            break
        # fill again from the values rounding and sharing left
        g, k = broken.nonzero()
        g = groups[g]
        now = (u.amounts + received) / w[:, None]
        level = np.full((len(u.ceiling), K), -np.inf)
        level[g, k] = group_levels(now, w, u.group_start, u.ceiling, g, k)
        refilled = np.zeros((len(u.ceiling), K), dtype=bool)
        refilled[g, k] = True
        refilled = refilled[member]
        y = np.maximum(now, level[member])
        target = np.where(refilled, np.maximum(target, y), target)
        reason[refilled & (y > now * (1 + 1e-12))] = 2

    # a section that receives part of an addition made for its sibling carries the sibling's reason
    done = passes[group_county[member]]
    for k in FACILITY.nonzero()[0]:
        need = (done & (received[:, k] > 0) & (reason[:, k] == 0)).nonzero()[0]
        if len(need) == 0:
            continue
        given = (reason[:, k] != 0).nonzero()[0]
        first = np.full(int(u.school.max()) + 1, n)          # each school's first row with a reason
        np.minimum.at(first, u.school[given], given)
        sibling = first[u.school[need]]
        reason[need, k] = np.where(sibling < n, reason[np.minimum(sibling, n - 1), k], 1)
    return CountyPlans(received, school_add, reason, proven, passes, gap)


# ---- 4. the unit_plan table -------------------------------------------------------------------------


_UNITS_SQL = """
select u.province, u.province_code, u.county_code, u.county_name, u.school_id, u.school_name, u.level,
       u.unit_kind, u.students, coalesce(u.facility_share, 1.0) as facility_share, {resources}
from school_units u
join county_scorecard s using (year, county_code)
where u.year = {year} and s.resource_ok is distinct from true
order by u.county_code, u.level, u.school_id
"""


def _province_settings(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for row in con.sql("select province_code, floor_share, min_indicators_met, relative_tolerance "
                       "from policy_province").fetchall():
        out[row[0]] = {"floor_share": row[1], "allowed_misses": K - int(row[2]), "tolerance": row[3],
                       "thresholds": {}, "ceilings": {}}
    for code, level, indicator, threshold, ceiling in con.sql(
            "select province_code, level, indicator, threshold, cv_threshold from policy_level_thresholds").fetchall():
        p = out[code]
        p["ceilings"][level] = ceiling
        p["thresholds"].setdefault(level, {})[indicator] = threshold
    costs = con.sql("select * from policy_plan_costs").pl()
    for code, p in out.items():
        c = {r["indicator"]: r for r in costs.filter(pl.col("province_code") == code).iter_rows(named=True)}
        res = [c[r.indicator] for r in RESOURCES]
        p["per"] = np.array([r["per"] for r in res])
        p["thresholds"] = {lv: np.array([t[r.indicator] for r in RESOURCES]) / p["per"]
                           for lv, t in p["thresholds"].items()}
        p["yuan"] = np.array([r["yuan_per_unit"] for r in res])
        p["kind"] = [r["cost_kind"] for r in res]
        p["prices"] = np.array([r["yuan_per_unit"] * (r["recurring_years_for_choice"]
                                                      if r["cost_kind"] == "recurring_per_year" else 1.0)
                                for r in res])
        p["steps"] = np.array([r["step"] for r in res])
        p["add_unit"] = [r["add_unit"] for r in res]
        p["assumption"] = [r["cost_assumption"] for r in res]
    return out


_JOB: dict = {}          # the arrays of the year being planned, shared with worker processes by fork
CHUNK_UNITS = 25_000     # units planned together: enough to share numpy's cost per call, and a
                         # national year in several pieces to share between processes


def _units(job: dict, counties: list[tuple[int, int]]) -> tuple[Units, np.ndarray]:
    """The counties' units (rows a..b of the year's units in ``job``) as one Units; and the
    year's row of each."""
    rows = np.concatenate([np.arange(a, b) for a, b in counties])
    n = len(rows)
    level = job["level"][rows]
    county = np.repeat(np.arange(len(counties)), [b - a for a, b in counties])
    group_start = np.concatenate(([0], np.flatnonzero((county[1:] != county[:-1]) | (level[1:] != level[:-1])) + 1,
                                  [n]))
    group_county = county[group_start[:-1]]
    county_start = np.concatenate(([0], np.flatnonzero(group_county[1:] != group_county[:-1]) + 1,
                                   [len(group_county)]))
    p = [job["settings"][c] for c in job["codes"]]
    province = job["province_at"][rows]
    thresholds, ceiling = np.empty((n, K)), np.empty(len(group_county))
    levels, level_of = np.unique(level, return_inverse=True)
    for pl_ in np.unique(province * len(levels) + level_of).tolist():
        i, lv = divmod(pl_, len(levels))
        thresholds[(province == i) & (level_of == lv)] = p[i]["thresholds"][levels[lv]]
    for g, (i, lv) in enumerate(zip(province[group_start[:-1]].tolist(), level[group_start[:-1]].tolist())):
        ceiling[g] = p[i]["ceilings"][lv]

    def each(name: str) -> np.ndarray:
        return np.array([s[name] for s in p])[province]

    units = Units(school=job["school"][rows], students=job["students"][rows], share=job["share"][rows],
                  amounts=job["amounts"][rows], thresholds=thresholds, prices=each("prices"), steps=each("steps"),
                  floor_share=each("floor_share"), tolerance=each("tolerance"), group_start=group_start,
                  ceiling=ceiling, allowed_misses=each("allowed_misses")[group_start[:-1]], county_start=county_start)
    return units, rows


def _plan_chunk(counties: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """Plan these counties together; each county's unit_plan rows as arrays."""
    job = _JOB
    u, rows = _units(job, counties)
    plan = plan_counties(u)
    ii, kk = np.nonzero(plan.received > 0)
    received = plan.received[ii, kk]
    # a facility added to a school is paid once: each of its sections carries its part
    _, key = np.unique(u.school[ii] * K + kk, return_inverse=True)
    total = np.bincount(key, weights=received)[key]
    yuan = np.array([job["settings"][c]["yuan"] for c in job["codes"]])[job["province_at"][rows[ii]], kk]
    paid = np.where(FACILITY[kk], plan.school_add[ii, kk] * received / total, received) * yuan
    county = np.repeat(np.arange(len(counties)), [b - a for a, b in counties])[ii]
    columns = {"row": rows[ii], "k": kk, "received": received, "school_add": plan.school_add[ii, kk],
               "paid": paid, "reason": REASONS[plan.reason[ii, kk]], "proven": plan.proven_cheapest[county],
               "gap": plan.gap_bound[county], "passes": plan.passes[county]}
    cut = np.searchsorted(county, np.arange(len(counties) + 1))
    return [{name: values[a:b] for name, values in columns.items()} for a, b in zip(cut[:-1], cut[1:])]


def _plan_counties(job: dict, counties: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """Each county's unit_plan rows as arrays, in order. Counties are independent: they are
    planned in pieces of some CHUNK_UNITS units, shared between processes, one per core (forked,
    so they see the year's arrays without copying)."""
    chunks, units = [[]], 0
    for a, b in counties:
        if units >= CHUNK_UNITS:
            chunks.append([])
            units = 0
        chunks[-1].append((a, b))
        units += b - a
    global _JOB
    _JOB = job
    try:
        return [piece for chunk in _in_processes(_plan_chunk, [c for c in chunks if c], 2) for piece in chunk]
    finally:
        _JOB = {}


def unit_plan(con: duckdb.DuckDBPyConnection, year: int) -> pl.DataFrame:
    """Plan every county of ``year`` whose resource part does not pass; one row per unit and
    indicator the plan changes."""
    columns = [r.column for r in RESOURCES]
    # the year as a literal: DuckDB plans a prepared parameter here 40 times slower
    frame = con.sql(_UNITS_SQL.format(resources=", ".join(f"u.{c}" for c in columns), year=int(year))).pl()
    if frame.height == 0:
        return pl.DataFrame(schema=UNIT_PLAN_SCHEMA)
    settings = _province_settings(con)
    county = frame["county_code"].to_numpy()
    amounts = frame.select(columns).to_numpy().astype(float)   # null → NaN
    counties = [(a, b) for a, b in plan_cache.runs(county)
                # a unit without a value: the county is not plannable (county_plan says so)
                if not np.isnan(amounts[a:b]).any()]
    codes = sorted(settings)
    job = {"school_id": frame["school_id"].to_numpy(),
           "school": frame["school_id"].rank("dense").to_numpy(),   # the same schools, as numbers: cheaper to group
           "level": frame["level"].to_numpy(), "students": frame["students"].to_numpy(),
           "share": frame["facility_share"].to_numpy().astype(float), "amounts": amounts,
           "province": frame["province_code"].to_numpy(), "settings": settings, "facility": FACILITY,
           # provinces as numbers (positions in ``codes``): cheaper to look up
           "codes": codes, "province_at": frame["province_code"].replace_strict(
               {c: i for i, c in enumerate(codes)}, return_dtype=pl.Int64).to_numpy()}
    # counties whose inputs are as the last run left them keep that run's plan
    keys = plan_cache.county_keys(job, counties)
    path = plan_cache.cache_path(con, year)
    known = plan_cache.load(path)
    todo = [c for c, key in zip(counties, keys) if key not in known]
    fresh = iter(_plan_counties(job, todo))
    planned = [known.piece(key, a) if key in known else next(fresh) for (a, _), key in zip(counties, keys)]
    if todo or not known.holds_only(keys):
        plan_cache.save(path, keys, planned, counties)
    parts: dict[str, list] = {k: [] for k in ("row", *plan_cache.FIELDS)}
    for piece in planned:
        for name, values in piece.items():
            parts[name].append(values)
    if not parts["row"]:
        return pl.DataFrame(schema=UNIT_PLAN_SCHEMA)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    rows, kk = cat["row"], cat["k"]
    base = frame[rows]
    # per-province settings for each row, by position: (province, indicator) → index
    pk = job["province_at"][rows] * K + kk

    def by_row(name: str, dtype: pl.DataType) -> pl.Series:
        return pl.Series([v for c in codes for v in settings[c][name]], dtype=dtype).gather(pk)

    def by_indicator(values: list) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(kk)

    per = by_row("per", pl.Float64).to_numpy()
    students = job["students"][rows]
    now = amounts[rows, kk] / students
    return pl.DataFrame({
        "year": np.full(len(rows), year), "province": base["province"], "province_code": base["province_code"],
        "county_code": base["county_code"], "county_name": base["county_name"], "school_id": base["school_id"],
        "school_name": base["school_name"], "level": base["level"], "unit_kind": base["unit_kind"],
        "indicator": by_indicator([r.indicator for r in RESOURCES]), "students": base["students"],
        "value_now": now * per, "value_planned": (amounts[rows, kk] + cat["received"]) / students * per,
        "add_amount": cat["received"], "add_unit": by_indicator([r.unit_en for r in RESOURCES]),
        "school_add_amount": cat["school_add"], "facility_share": job["share"][rows], "cost_yuan": cat["paid"],
        "cost_kind": by_row("kind", pl.String), "cost_is_assumption": by_row("assumption", pl.Boolean),
        "reason": pl.Series(cat["reason"], dtype=pl.String), "proven_cheapest": cat["proven"],
        "cheapest_within": cat["gap"], "plan_passes": cat["passes"],
    }, schema=UNIT_PLAN_SCHEMA)


UNIT_PLAN_SCHEMA = {
    "year": pl.Int32, "province": pl.String, "province_code": pl.String, "county_code": pl.String,
    "county_name": pl.String, "school_id": pl.String, "school_name": pl.String, "level": pl.String,
    "unit_kind": pl.String, "indicator": pl.String, "students": pl.Int64, "value_now": pl.Float64,
    "value_planned": pl.Float64, "add_amount": pl.Float64, "add_unit": pl.String,
    "school_add_amount": pl.Float64, "facility_share": pl.Float64, "cost_yuan": pl.Float64,
    "cost_kind": pl.String, "cost_is_assumption": pl.Boolean, "reason": pl.String,
    "proven_cheapest": pl.Boolean, "cheapest_within": pl.Float64, "plan_passes": pl.Boolean,
}
