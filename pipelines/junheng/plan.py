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
# Each function works on many rows at once (one row per indicator, or per choice of exemptions
# tried, the units' enrolments shared): a county's search asks for thousands of small fills, and
# one numpy call per batch costs what one call per fill would. A row's result does not depend on
# the rows beside it.


def weighted_cvs(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The assessment's CV (population form, enrolment-weighted) of each row of per-student values."""
    total = weights.sum()
    mean = (weights * values).sum(axis=1) / total
    spread = np.sqrt(np.maximum((weights * (values - mean[:, None]) ** 2).sum(axis=1) / total, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean == 0, np.nan, spread / np.where(mean == 0, 1.0, mean))


def water_levels(bounds: np.ndarray, weights: np.ndarray, ceiling: float) -> np.ndarray:
    """For each row of ``bounds``, the least common level L such that max(bounds, L) has a
    weighted CV ≤ ceiling; -inf where the bounds already pass.

    Exact: on the segment between two sorted bounds the condition E[y²] ≤ (1+c²)·E[y]² is a
    quadratic in L.
    """
    rows, n = bounds.shape
    levels = np.full(rows, -np.inf)
    if n <= 1:
        return levels
    k2 = 1.0 + ceiling * ceiling
    # Most rows pass already (h[0] <= 0 below). That is seen without sorting when it is clear by
    # far more than the sums' rounding; a close call is left to the exact computation, so the
    # result is the same either way.
    m2 = ((bounds * bounds) @ weights) * float(weights.sum())
    m1 = k2 * (bounds @ weights) ** 2
    todo = (~(m2 - m1 <= -1e-9 * m2)).nonzero()[0]
    if len(todo) == 0:
        return levels
    order = np.argsort(bounds[todo], axis=1, kind="stable")
    b = np.take_along_axis(bounds[todo], order, axis=1)
    w = weights[order]
    W = w.sum(axis=1)[:, None]
    wb, wb2 = w * b, w * b * b
    # at L = b[j], units 0..j-1 are raised to b[j]; the rest keep their bounds
    w_raised = np.zeros_like(w)
    np.cumsum(w[:, :-1], axis=1, out=w_raised[:, 1:])
    s1 = np.cumsum(wb[:, ::-1], axis=1)[:, ::-1]
    s2 = np.cumsum(wb2[:, ::-1], axis=1)[:, ::-1]
    h = (w_raised * b * b + s2) * W - k2 * (w_raised * b + s1) ** 2
    rising = (h[:, 0] > 0).nonzero()[0]
    if len(rising) == 0:
        return levels
    todo, h, b, W = todo[rising], h[rising], b[rising], W[rising, 0]
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
                                  float(W[r]), k2)
    return levels


def _bisect(lo: float, hi: float, wa: float, t1: float, t2: float, W: float, k2: float) -> float:
    def h_at(level: float) -> float:
        return (wa * level * level + t2) * W - k2 * (wa * level + t1) ** 2

    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if h_at(mid) <= 0 else (mid, hi)
    return hi


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


# ---- 2. one county and level: the continuous plan ---------------------------------------------


@dataclass
class LevelPlan:
    values: np.ndarray      # (n, K) per-student values planned (before rounding)
    cost: float             # Σ price × resource added, before rounding
    proven_cheapest: bool
    filled: np.ndarray      # (n, K) bool: the value is set by water-filling (a CV), not the school rule
    gap_bound: float = 0.0  # the cost is at most this share above the cheapest (0 when proven)


def solve_level(students: np.ndarray, amounts: np.ndarray, thresholds: np.ndarray, *, floor_share: float,
                allowed_misses: int, ceiling: float, prices: np.ndarray, tolerance: float = 1e-9) -> LevelPlan:
    """The cheapest continuous plan for the units of one county and level.

    ``amounts`` (n, K) are resource totals, ``thresholds`` (K,) per-student thresholds
    (the indicator's threshold / per), ``prices`` (K,) yuan per unit of resource as weighed
    for the choice.
    """
    n = len(students)
    w = students.astype(float)
    x = amounts / w[:, None]
    full = np.maximum(x, thresholds[None, :])
    relaxed = np.maximum(x, floor_share * thresholds[None, :])
    below = x < thresholds[None, :] * (1 - tolerance)
    saving = prices[None, :] * w[:, None] * (full - relaxed)          # what exempting (i, k) saves

    # only a unit below a threshold has a choice: which of those indicators to miss (each such
    # indicator is in some option, so the candidates for exempting k are the units below on k)
    candidates = below.T

    # Indicators whose CV stays under the ceiling for every choice: cost is separable there.
    # E[y²] ≤ E[full²] and E[y] ≥ E[relaxed] for every choice, so the bound covers them all.
    lo = np.where(below, relaxed, full)
    separable = (n <= 1) | ((w[:, None] * full * full).sum(axis=0) * w.sum()
                            <= (1 + ceiling * ceiling) * (w[:, None] * lo).sum(axis=0) ** 2)
    no_fill = separable.copy()   # these CVs are under their ceilings whatever the choice

    # A binding indicator whose water level, with every unit held to its full threshold, is at
    # or above that threshold lifts every unit below it anyway: exempting a unit there saves
    # nothing (its bound does not bind, so lowering it changes no optimum). Its cost is then a
    # constant, and its exemptions are worth zero.
    full_of = np.ascontiguousarray(full.T)      # a row per indicator
    unsure = (~separable & candidates.any(axis=1)).nonzero()[0]
    for k, level in zip(unsure.tolist(), water_levels(full_of[unsure], w, ceiling).tolist()):
        if level >= full[candidates[k], k].max() * (1 - 1e-12):
            separable[k] = True
            saving[:, k] = 0.0

    # the per-unit choices below read single values: Python lists read them several times faster
    saving_of = saving.tolist()
    is_separable = separable.tolist()

    def own_saving(option: tuple[int, ...], i: int) -> float:
        return float(sum(saving_of[i][k] for k in option))

    # Each unit keeps its best option among the separable ones, and every option that touches
    # a binding indicator; a unit left with one option is decided. With one miss allowed (the
    # national rule) a unit below only on separable indicators simply misses the one that saves
    # most: decided for all such units at once.
    choice: list[tuple[int, ...]] = [()] * n
    open_units: list[int] = []
    open_options: dict[int, list[tuple[int, ...]]] = {}
    short = below.any(axis=1)
    options = {}
    if allowed_misses == 1:
        _one_miss_options(below, separable, saving, choice, open_units, open_options)
    else:
        below_of = below.tolist()
        for i in short.nonzero()[0].tolist():
            ks = tuple(k for k, b in enumerate(below_of[i]) if b)
            options[i] = list(itertools.combinations(ks, min(allowed_misses, len(ks))))
    for i, opts in options.items():
        sep = [o for o in opts if all(is_separable[k] for k in o)]
        coupled = [o for o in opts if not all(is_separable[k] for k in o)]
        kept = ([max(sep, key=lambda o: own_saving(o, i))] if sep else []) + coupled
        choice[i] = max(kept, key=lambda o: own_saving(o, i))
        if len(kept) > 1:
            open_units.append(i)
            open_options[i] = kept

    binding = [k for k in range(K) if not separable[k]]
    proven, gap = True, 0.0
    if binding and open_units:
        choice, proven, below_cost = _search(choice, open_units, open_options, binding, separable, saving,
                                             x, full, relaxed, w, ceiling, prices)

    exempt = np.zeros_like(below)
    exempt[[i for i, c in enumerate(choice) for _ in c], [k for c in choice for k in c]] = True
    bounds = np.ascontiguousarray(np.where(exempt, relaxed, full).T)   # a row per indicator
    x_of = np.ascontiguousarray(x.T)
    values = bounds.copy()
    fill = (~no_fill).nonzero()[0]
    added = (w * (values - x_of)).sum(axis=1)
    added[fill], values[fill] = fill_costs(x_of[fill], bounds[fill], w, ceiling)
    filled = (values > bounds * (1 + 1e-12)).T
    cost = 0.0
    for k in range(K):
        cost += prices[k] * float(added[k])
    values = values.T
    if not proven:
        gap = max(0.0, -below_cost / cost) if cost > 0 else 0.0
    return LevelPlan(values, cost, proven, filled, gap)


def _one_miss_options(below, separable, saving, choice, open_units, open_options) -> None:
    """With one miss allowed (the national rule), each unit below a threshold misses one
    indicator. Its options are the separable indicator that saves most on its own and every
    binding one it is below on; it takes the option that saves most (the first such, in that
    order), and is left open for the search when it has more than one. Fills the arguments."""
    sep = below & separable[None, :]
    coupled = below & ~separable[None, :]
    has_sep = sep.any(axis=1)
    sep_best = np.where(sep, saving, -np.inf).argmax(axis=1)
    sep_value = np.where(has_sep, saving[np.arange(len(below)), sep_best], -np.inf)
    coupled_value = np.where(coupled, saving, -np.inf)
    coupled_best = coupled_value.argmax(axis=1)
    take_sep = has_sep & (sep_value >= coupled_value.max(axis=1))
    chosen = np.where(take_sep, sep_best, coupled_best)
    n_kept = has_sep.astype(int) + coupled.sum(axis=1)
    short = below.any(axis=1).nonzero()[0]
    for i, k in zip(short.tolist(), chosen[short].tolist()):
        choice[i] = (k,)
    # (Python lists: reading numpy values one at a time costs more than the work here)
    opened = (n_kept > 1).nonzero()[0]
    for i, sep_k, has, ks in zip(opened.tolist(), sep_best[opened].tolist(), has_sep[opened].tolist(),
                                 coupled[opened].tolist()):
        open_units.append(i)
        open_options[i] = ([(sep_k,)] if has else []) + [(k,) for k, c in enumerate(ks) if c]


def _search(choice, open_units, open_options, binding, separable, saving, x, full, relaxed, w, ceiling, prices):
    """Choose the open units' exemptions (those that touch an indicator whose CV binds).

    Few choices (at most EXHAUSTIVE_UNITS open units, or EXHAUSTIVE_COMBINATIONS combinations):
    every combination, so the result is proven the cheapest. Otherwise: hold each binding
    indicator's water level fixed, let every unit take the exemption that saves most at those
    levels, refill, and repeat until the choice settles; the best choice evaluated is kept.
    Returns the choice, whether it is proven, and how far below its cost the cheapest choice can
    at most be (a lower bound: every candidate relaxed on every binding indicator at once, each
    unit saving its most on the separable ones), None when proven.
    """
    m, n, nb = len(open_units), len(w), len(binding)
    opened = np.array(open_units)
    options = [open_options[i] for i in open_units]
    width = max(len(o) for o in options)
    # option t of open unit j: whether it relaxes each binding indicator, and what it saves on
    # the separable ones (worked out once, not for every combination tried)
    valid = np.zeros((m, width), dtype=bool)
    relaxes = np.zeros((nb, m, width), dtype=bool)
    saves = np.zeros((m, width))
    indicators = np.full((m, width, max(len(o) for opts in options for o in opts)), -1)   # -1: none
    slot = {k: b for b, k in enumerate(binding)}
    for j, (i, opts) in enumerate(zip(open_units, options)):
        for t, o in enumerate(opts):
            valid[j, t] = True
            indicators[j, t, :len(o)] = o
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

    somewhere = (relaxes & valid[None]).any(axis=2)           # (nb, m): j can relax b
    lower = (float(priced(fill_costs(x_of, bounds_of(somewhere), w, ceiling)[0]))
             - sum(np.where(valid, saves, -np.inf).max(axis=1).tolist()))
    start = np.array([options[j].index(choice[i]) for j, i in enumerate(open_units)])
    counts = [len(o) for o in options]
    combos = math.prod(counts)
    if m <= EXHAUSTIVE_UNITS or combos <= EXHAUSTIVE_COMBINATIONS:
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
        return _chosen(choice, open_units, options, picks), True, None

    def levels_and_cost(picks: np.ndarray) -> tuple[np.ndarray, float]:
        """One choice's water levels and its cost (as costs() weighs it), in one batch."""
        bounds = bounds_of(relaxes[:, np.arange(m), picks])
        levels = water_levels(bounds, w, ceiling)
        added = _raised(x_of, bounds, w, levels)[0]
        return levels, float(priced(added) - sum(saves[np.arange(m), picks].tolist()))

    picks = start
    levels, best_cost = levels_and_cost(picks)
    best = picks
    cheap = prices[binding] * w[:, None]
    for _ in range(SETTLE_ROUNDS):
        value = saving.copy()     # what exempting (i, k) saves with the water levels held
        value[:, binding] = cheap * (np.maximum(full[:, binding], levels) - np.maximum(relaxed[:, binding], levels))
        worth = 0.0
        for p in range(indicators.shape[2]):
            k = indicators[:, :, p]
            worth = worth + np.where(k >= 0, value[opened[:, None], np.maximum(k, 0)], 0.0)
        new = np.where(valid, worth, -np.inf).argmax(axis=1)   # the first best, as max() takes
        if np.array_equal(new, picks):
            break
        picks = new
        levels, c = levels_and_cost(picks)
        if c < best_cost:
            best, best_cost = picks, c
    # costs leave out a constant (the same for every choice), so the bound travels as the
    # distance below the chosen cost
    return _chosen(choice, open_units, options, best), False, lower - best_cost


def _chosen(choice, open_units, options, picks) -> list[tuple[int, ...]]:
    """The choice with each open unit's pick (an index into its options) in place."""
    out = list(choice)
    for j, i in enumerate(open_units):
        out[i] = options[j][int(picks[j])]
    return out


# ---- 3. one county: whole teachers and rooms, shared facilities, recheck --------------------------


@dataclass
class CountyUnits:
    """The units of one county, as arrays (row i is one unit)."""

    school: np.ndarray           # physical school (a merged teaching point's parent), as a number
    level: np.ndarray            # 'primary' | 'junior'
    students: np.ndarray
    share: np.ndarray            # share of its school's facilities (1 for a one-level school)
    amounts: np.ndarray          # (n, K) resource totals
    thresholds: dict[str, np.ndarray]   # level → (K,) per-student thresholds
    ceilings: dict[str, float]
    floor_share: float
    allowed_misses: int
    tolerance: float
    prices: np.ndarray           # (K,) yuan per unit for the choice
    steps: np.ndarray            # (K,) rounding step of an addition
    facility: np.ndarray         # (K,) bool


@dataclass
class CountyPlan:
    received: np.ndarray         # (n, K) what each unit's figures rise by
    school_add: np.ndarray       # (n, K) what the unit's whole school adds (facilities; = received for teachers)
    reason: np.ndarray           # (n, K) 'school_rule' | 'cv' | ''
    proven_cheapest: bool
    passes: bool
    gap_bound: float = 0.0       # continuous cost at most this share above the cheapest (0 when proven)


def _round_up(amount: np.ndarray, step: float | np.ndarray) -> np.ndarray:
    return np.ceil(np.maximum(amount, 0) / step - 1e-9) * step


def _check(units: CountyUnits, amounts: np.ndarray) -> list[tuple[str, int]]:
    """The (level, indicator) CVs over their ceiling, after checking the school rule holds."""
    broken = []
    x = amounts / units.students[:, None]
    for level in sorted(set(units.level.tolist())):
        rows = units.level == level
        thr = units.thresholds[level]
        met = x[rows] >= thr * (1 - units.tolerance)
        floor_ok = x[rows] >= units.floor_share * thr * (1 - units.tolerance)
        if not ((met.sum(axis=1) >= K - units.allowed_misses) & floor_ok.all(axis=1)).all():
            raise AssertionError("the plan left a unit below the school rule")
        cvs = weighted_cvs(np.ascontiguousarray(x[rows].T), units.students[rows].astype(float))
        broken += [(str(level), k) for k in (~(cvs <= units.ceilings[level] * (1 + units.tolerance))).nonzero()[0]]
    return broken


def plan_county(units: CountyUnits) -> CountyPlan:
    n = len(units.students)
    w = units.students.astype(float)
    target = units.amounts / w[:, None]      # per-student values the plan aims at
    reason = np.full((n, K), "", dtype=object)
    cost, proven, above_cheapest = 0.0, True, 0.0
    for level in sorted(set(units.level.tolist())):
        rows = (units.level == level).nonzero()[0]
        lp = solve_level(units.students[rows], units.amounts[rows], units.thresholds[level],
                         floor_share=units.floor_share, allowed_misses=units.allowed_misses,
                         ceiling=units.ceilings[level], prices=units.prices, tolerance=units.tolerance)
        target[rows] = lp.values
        reason[rows] = np.where(lp.filled, "cv", np.where(lp.values > units.amounts[rows] / w[rows, None], "school_rule", ""))
        cost += lp.cost
        proven &= lp.proven_cheapest
        above_cheapest += lp.gap_bound * lp.cost
    gap = above_cheapest / cost if cost > 0 else 0.0

    schools, school_index = np.unique(units.school, return_inverse=True)
    for _ in range(REPAIR_ROUNDS):
        wanted = np.maximum(target * w[:, None] - units.amounts, 0)
        # teachers round up per section; a facility at the school, for the section that needs most
        per_school = np.zeros((len(schools), K))
        np.maximum.at(per_school, school_index, wanted / units.share[:, None])
        shared = _round_up(per_school, units.steps)[school_index]
        own = _round_up(wanted, units.steps)
        school_add = np.where(units.facility, shared, own)
        received = np.where(units.facility, shared * units.share[:, None], own)
        amounts = units.amounts + received
        broken = _check(units, amounts)
        if not broken:
            break
        for level, k in broken:          # fill again from the values rounding and sharing left
            rows = units.level == level
            x_now = amounts[rows, k] / w[rows]
            y = fill_costs(x_now[None, :], x_now[None, :], w[rows], units.ceilings[level])[1][0]
            raise_rows = rows.nonzero()[0][y > x_now * (1 + 1e-12)]
            target[rows, k] = np.maximum(target[rows, k], y)
            reason[raise_rows, k] = "cv"
    else:
        return CountyPlan(received, school_add, reason, proven, False, gap)

    # a section that receives part of an addition made for its sibling carries the sibling's reason
    for k in units.facility.nonzero()[0]:
        for i in ((received[:, k] > 0) & (reason[:, k] == "")).nonzero()[0]:
            siblings = ((school_index == school_index[i]) & (reason[:, k] != "")).nonzero()[0]
            reason[i, k] = reason[siblings[0], k] if len(siblings) else "school_rule"
    return CountyPlan(received, school_add, reason, proven, True, gap)


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
PARALLEL_FROM = 200      # counties: fewer are planned in this process


def _plan_slice(bounds: tuple[int, int]) -> dict[str, np.ndarray]:
    """Plan one county (rows a..b of the year's units); its unit_plan rows as arrays."""
    a, b = bounds
    j = _JOB
    p = j["settings"][j["province"][a]]
    units = CountyUnits(
        school=j["school"][a:b], level=j["level"][a:b], students=j["students"][a:b], share=j["share"][a:b],
        amounts=j["amounts"][a:b], thresholds=p["thresholds"], ceilings=p["ceilings"], floor_share=p["floor_share"],
        allowed_misses=p["allowed_misses"], tolerance=p["tolerance"], prices=p["prices"], steps=p["steps"],
        facility=j["facility"])
    result = plan_county(units)
    ii, kk = np.nonzero(result.received > 0)
    received = result.received[ii, kk]
    # a facility added to a school is paid once: each of its sections carries its part
    _, school_of = np.unique(units.school[ii], return_inverse=True)
    key = school_of * K + kk
    total = np.bincount(key, weights=received)[key]
    paid = np.where(j["facility"][kk], result.school_add[ii, kk] * received / total, received)
    return {"row": a + ii, "k": kk, "received": received, "school_add": result.school_add[ii, kk],
            "paid": paid * p["yuan"][kk], "reason": result.reason[ii, kk].astype(str),
            "proven": np.full(len(ii), result.proven_cheapest), "gap": np.full(len(ii), result.gap_bound),
            "passes": np.full(len(ii), result.passes)}


def _plan_counties(counties: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """Counties are independent: a national year is shared between processes, one per core
    (forked, so they see the year's arrays without copying; the results come back in order)."""
    import multiprocessing
    import os

    workers = min(os.cpu_count() or 1, 8)
    if len(counties) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_plan_slice(c) for c in counties]
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
    try:
        return pool.map(_plan_slice, counties, chunksize=max(1, len(counties) // (workers * 8)))
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


def unit_plan(con: duckdb.DuckDBPyConnection, year: int) -> pl.DataFrame:
    """Plan every county of ``year`` whose resource part does not pass; one row per unit and
    indicator the plan changes."""
    columns = [r.column for r in RESOURCES]
    # the year as a literal: DuckDB plans a prepared parameter here 40 times slower
    frame = con.sql(_UNITS_SQL.format(resources=", ".join(f"u.{c}" for c in columns), year=int(year))).pl()
    if frame.height == 0:
        return pl.DataFrame(schema=UNIT_PLAN_SCHEMA)
    settings = _province_settings(con)
    facility = np.array([r.facility for r in RESOURCES])
    county = frame["county_code"].to_numpy()
    province = frame["province_code"].to_numpy()
    school_id = frame["school_id"].to_numpy()
    school = frame["school_id"].rank("dense").to_numpy()   # the same schools, as numbers: cheaper to group
    level = frame["level"].to_numpy()
    students = frame["students"].to_numpy()
    share = frame["facility_share"].to_numpy().astype(float)
    amounts = frame.select(columns).to_numpy().astype(float)   # null → NaN
    counties = [(a, b) for a, b in plan_cache.runs(county)
                # a unit without a value: the county is not plannable (county_plan says so)
                if not np.isnan(amounts[a:b]).any()]
    global _JOB
    _JOB = {"school_id": school_id, "school": school, "level": level, "students": students, "share": share,
            "amounts": amounts, "province": province, "settings": settings, "facility": facility}
    try:
        # counties whose inputs are as the last run left them keep that run's plan
        keys = plan_cache.county_keys(_JOB, counties)
        path = plan_cache.cache_path(con, year)
        known = plan_cache.load(path)
        todo = [c for c, key in zip(counties, keys) if key not in known]
        fresh = iter(_plan_counties(todo))
        planned = [known.piece(key, a) if key in known else next(fresh) for (a, _), key in zip(counties, keys)]
    finally:
        _JOB = {}
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
    codes = sorted(settings)
    which = base["province_code"].replace_strict({c: i for i, c in enumerate(codes)}, return_dtype=pl.Int64)
    pk = which.to_numpy() * K + kk

    def by_row(name: str, dtype: pl.DataType) -> pl.Series:
        return pl.Series([v for c in codes for v in settings[c][name]], dtype=dtype).gather(pk)

    def by_indicator(values: list) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(kk)

    per = by_row("per", pl.Float64).to_numpy()
    now = amounts[rows, kk] / students[rows]
    return pl.DataFrame({
        "year": np.full(len(rows), year), "province": base["province"], "province_code": base["province_code"],
        "county_code": base["county_code"], "county_name": base["county_name"], "school_id": base["school_id"],
        "school_name": base["school_name"], "level": base["level"], "unit_kind": base["unit_kind"],
        "indicator": by_indicator([r.indicator for r in RESOURCES]), "students": base["students"],
        "value_now": now * per, "value_planned": (amounts[rows, kk] + cat["received"]) / students[rows] * per,
        "add_amount": cat["received"], "add_unit": by_indicator([r.unit_en for r in RESOURCES]),
        "school_add_amount": cat["school_add"], "facility_share": share[rows], "cost_yuan": cat["paid"],
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
