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
   of a quadratic on the segment between two sorted bounds (:func:`water_fill`).
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

from junheng.contract import RESOURCES

K = len(RESOURCES)
EXHAUSTIVE_LIMIT = 20_000      # exemption combinations searched exhaustively per county and level
REPAIR_ROUNDS = 30


# ---- 1. water-filling ---------------------------------------------------------------------------


def weighted_cv(values: np.ndarray, weights: np.ndarray) -> float:
    """The assessment's CV (population form, enrolment-weighted) of per-student values."""
    total = weights.sum()
    mean = (weights * values).sum() / total
    if mean == 0:
        return math.nan
    return math.sqrt(max((weights * (values - mean) ** 2).sum() / total, 0.0)) / mean


def water_fill(bounds: np.ndarray, weights: np.ndarray, ceiling: float) -> float:
    """The least common level L such that max(bounds, L) has a weighted CV ≤ ceiling.

    Returns -inf when the bounds already pass. Exact: on the segment between two sorted
    bounds the condition E[y²] ≤ (1+c²)·E[y]² is a quadratic in L.
    """
    n = len(bounds)
    if n <= 1:
        return -math.inf
    order = np.argsort(bounds, kind="stable")
    b, w = bounds[order], weights[order]
    W = w.sum()
    k2 = 1.0 + ceiling * ceiling
    wb, wb2 = w * b, w * b * b
    # at L = b[j], units 0..j-1 are raised to b[j]; the rest keep their bounds
    w_raised = np.concatenate(([0.0], np.cumsum(w)[:-1]))
    s1 = np.cumsum(wb[::-1])[::-1]
    s2 = np.cumsum(wb2[::-1])[::-1]
    h = (w_raised * b * b + s2) * W - k2 * (w_raised * b + s1) ** 2
    if h[0] <= 0:
        return -math.inf
    j = int(np.argmax(h <= 0))          # h[n-1] < 0 always: all equal gives CV 0
    lo, hi = b[j - 1], b[j]
    wa, t1, t2 = w_raised[j], s1[j], s2[j]
    # wa·W·L² + t2·W − k2·(wa·L + t1)² = 0, decreasing on [lo, hi]
    a = wa * W - k2 * wa * wa
    bq = -2.0 * k2 * wa * t1
    c0 = t2 * W - k2 * t1 * t1
    roots = []
    if abs(a) > 1e-300:
        disc = bq * bq - 4 * a * c0
        if disc >= 0:
            sq = math.sqrt(disc)
            roots = [(-bq - sq) / (2 * a), (-bq + sq) / (2 * a)]
    elif bq != 0:
        roots = [-c0 / bq]
    span = max(hi - lo, abs(hi)) * 1e-9
    inside = [r for r in roots if lo - span <= r <= hi + span]
    if inside:
        return min(max(min(inside), lo), hi)

    def h_at(level: float) -> float:
        return (wa * level * level + t2) * W - k2 * (wa * level + t1) ** 2

    for _ in range(200):                # numerically awkward segment: bisection
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if h_at(mid) <= 0 else (mid, hi)
    return hi


def fill_cost(values: np.ndarray, bounds: np.ndarray, weights: np.ndarray, ceiling: float) -> tuple[float, np.ndarray]:
    """Resource added (Σ wᵢ·(yᵢ − xᵢ)) and the values y after raising to the bounds and filling."""
    level = water_fill(bounds, weights, ceiling)
    y = np.maximum(bounds, level)
    return float((weights * (y - values)).sum()), y


# ---- 2. one county and level: the continuous plan ---------------------------------------------


@dataclass
class LevelPlan:
    values: np.ndarray      # (n, K) per-student values planned (before rounding)
    exempted: list[tuple[int, ...]]  # per unit: the indicators it may miss
    cost: float             # Σ price × resource added, before rounding
    proven_cheapest: bool
    filled: np.ndarray      # (n, K) bool: the value is set by water-filling (a CV), not the school rule


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

    options: list[list[tuple[int, ...]]] = []
    for i in range(n):
        ks = tuple(np.flatnonzero(below[i]))
        size = min(allowed_misses, len(ks))
        options.append(list(itertools.combinations(ks, size)) if size else [()])

    # Indicators whose CV stays under the ceiling for every choice: cost is separable there.
    # E[y²] ≤ E[full²] and E[y] ≥ E[relaxed] for every choice, so the bound covers them all.
    candidates = [np.array([any(k in o for o in options[i]) for i in range(n)]) for k in range(K)]
    separable = np.zeros(K, dtype=bool)
    for k in range(K):
        lo = np.where(candidates[k], relaxed[:, k], full[:, k])
        hi = full[:, k]
        separable[k] = n <= 1 or (w * hi * hi).sum() * w.sum() <= (1 + ceiling * ceiling) * (w * lo).sum() ** 2

    def own_saving(option: tuple[int, ...], i: int) -> float:
        return float(sum(saving[i, k] for k in option))

    # Each unit keeps its best option among the separable ones, and every option that touches
    # a binding indicator; a unit left with one option is decided.
    choice: list[tuple[int, ...]] = []
    open_units: list[int] = []
    open_options: dict[int, list[tuple[int, ...]]] = {}
    for i in range(n):
        sep = [o for o in options[i] if all(separable[k] for k in o)]
        coupled = [o for o in options[i] if not all(separable[k] for k in o)]
        kept = ([max(sep, key=lambda o: own_saving(o, i))] if sep else []) + coupled
        choice.append(max(kept, key=lambda o: own_saving(o, i)))
        if len(kept) > 1:
            open_units.append(i)
            open_options[i] = kept

    binding = [k for k in range(K) if not separable[k]]
    proven = True
    if binding and open_units:
        choice, proven = _search(choice, open_units, open_options, binding, separable, saving,
                                 x, full, relaxed, w, ceiling, prices)

    values = np.empty_like(x)
    filled = np.zeros_like(below)
    cost = 0.0
    for k in range(K):
        bounds = full[:, k].copy()
        for i in range(n):
            if k in choice[i]:
                bounds[i] = relaxed[i, k]
        added, y = fill_cost(x[:, k], bounds, w, ceiling)
        values[:, k] = y
        filled[:, k] = y > bounds * (1 + 1e-12)
        cost += prices[k] * added
    return LevelPlan(values, choice, cost, proven, filled)


def _search(choice, open_units, open_options, binding, separable, saving, x, full, relaxed, w, ceiling, prices):
    """Choose the open units' exemptions: exhaustively when the combinations are few (proven
    cheapest), else by local search from the units' own best choices."""
    fixed_sets = {k: frozenset(i for i in range(len(choice)) if i not in open_options and k in choice[i])
                  for k in binding}
    memo: dict[tuple[int, frozenset[int]], float] = {}

    def binding_cost(k: int, relaxed_units: frozenset[int]) -> float:
        if (k, relaxed_units) not in memo:
            bounds = full[:, k].copy()
            idx = list(relaxed_units)
            bounds[idx] = relaxed[idx, k]
            memo[(k, relaxed_units)] = prices[k] * fill_cost(x[:, k], bounds, w, ceiling)[0]
        return memo[(k, relaxed_units)]

    def cost(picks: dict[int, tuple[int, ...]]) -> float:
        """Cost up to a constant: the binding indicators in full, the separable ones by saving."""
        total = 0.0
        for k in binding:
            total += binding_cost(k, fixed_sets[k] | frozenset(i for i, o in picks.items() if k in o))
        return total - sum(saving[i, k] for i, o in picks.items() for k in o if separable[k])

    picks = {i: choice[i] for i in open_units}
    combos = math.prod(len(open_options[i]) for i in open_units)
    if combos <= EXHAUSTIVE_LIMIT:
        best, best_cost = picks, cost(picks)
        for pick in itertools.product(*(open_options[i] for i in open_units)):
            trial = dict(zip(open_units, pick))
            c = cost(trial)
            if c < best_cost - 1e-12 * max(1.0, abs(best_cost)):
                best, best_cost = trial, c
        proven, picks = True, best
    else:
        proven, current, improved = False, cost(picks), True
        while improved:
            improved = False
            for i in open_units:
                for o in open_options[i]:
                    if o == picks[i]:
                        continue
                    c = cost({**picks, i: o})
                    if c < current - 1e-9 * max(1.0, abs(current)):
                        picks, current, improved = {**picks, i: o}, c, True
    return [picks.get(i, c) for i, c in enumerate(choice)], proven


# ---- 3. one county: whole teachers and rooms, shared facilities, recheck --------------------------


@dataclass
class CountyUnits:
    """The units of one county, as arrays (row i is one unit)."""

    school_id: np.ndarray        # physical school (a merged teaching point's parent)
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
    continuous_cost: float
    proven_cheapest: bool
    repair_rounds: int
    passes: bool


def _round_up(amount: np.ndarray, step: float) -> np.ndarray:
    return np.ceil(np.maximum(amount, 0) / step - 1e-9) * step


def _check(units: CountyUnits, amounts: np.ndarray) -> list[tuple[str, int]]:
    """The (level, indicator) CVs over their ceiling, after checking the school rule holds."""
    broken = []
    x = amounts / units.students[:, None]
    for level in np.unique(units.level):
        rows = units.level == level
        thr = units.thresholds[level]
        met = x[rows] >= thr * (1 - units.tolerance)
        floor_ok = x[rows] >= units.floor_share * thr * (1 - units.tolerance)
        if not ((met.sum(axis=1) >= K - units.allowed_misses) & floor_ok.all(axis=1)).all():
            raise AssertionError("the plan left a unit below the school rule")
        for k in range(K):
            cv = weighted_cv(x[rows, k], units.students[rows].astype(float))
            if not (cv <= units.ceilings[level] * (1 + units.tolerance)):
                broken.append((str(level), k))
    return broken


def plan_county(units: CountyUnits) -> CountyPlan:
    n = len(units.students)
    w = units.students.astype(float)
    target = units.amounts / w[:, None]      # per-student values the plan aims at
    reason = np.full((n, K), "", dtype=object)
    cost, proven = 0.0, True
    for level in np.unique(units.level):
        rows = np.flatnonzero(units.level == level)
        lp = solve_level(units.students[rows], units.amounts[rows], units.thresholds[level],
                         floor_share=units.floor_share, allowed_misses=units.allowed_misses,
                         ceiling=units.ceilings[level], prices=units.prices, tolerance=units.tolerance)
        target[rows] = lp.values
        reason[rows] = np.where(lp.filled, "cv", np.where(lp.values > units.amounts[rows] / w[rows, None], "school_rule", ""))
        cost += lp.cost
        proven &= lp.proven_cheapest

    schools, school_index = np.unique(units.school_id, return_inverse=True)
    for rounds in range(REPAIR_ROUNDS):
        wanted = np.maximum(target * w[:, None] - units.amounts, 0)
        received = np.zeros_like(wanted)
        school_add = np.zeros_like(wanted)
        for k in range(K):
            if units.facility[k]:
                per_school = np.zeros(len(schools))
                np.maximum.at(per_school, school_index, wanted[:, k] / units.share)
                per_school = _round_up(per_school, units.steps[k])
                school_add[:, k] = per_school[school_index]
                received[:, k] = school_add[:, k] * units.share
            else:
                received[:, k] = _round_up(wanted[:, k], units.steps[k])
                school_add[:, k] = received[:, k]
        amounts = units.amounts + received
        broken = _check(units, amounts)
        if not broken:
            break
        for level, k in broken:          # fill again from the values rounding and sharing left
            rows = units.level == level
            x_now = amounts[rows, k] / w[rows]
            _, y = fill_cost(x_now, x_now, w[rows], units.ceilings[level])
            raise_rows = np.flatnonzero(rows)[y > x_now * (1 + 1e-12)]
            target[rows, k] = np.maximum(target[rows, k], y)
            reason[raise_rows, k] = "cv"
    else:
        return CountyPlan(received, school_add, reason, cost, proven, REPAIR_ROUNDS, False)

    # a section that receives part of an addition made for its sibling carries the sibling's reason
    for k in np.flatnonzero(units.facility):
        for i in np.flatnonzero((received[:, k] > 0) & (reason[:, k] == "")):
            siblings = np.flatnonzero((school_index == school_index[i]) & (reason[:, k] != ""))
            reason[i, k] = reason[siblings[0], k] if len(siblings) else "school_rule"
    return CountyPlan(received, school_add, reason, cost, proven, rounds, True)


# ---- 4. the unit_plan table -------------------------------------------------------------------------


_UNITS_SQL = """
select u.province, u.province_code, u.county_code, u.county_name, u.school_id, u.school_name, u.level,
       u.unit_kind, u.students, coalesce(u.facility_share, 1.0) as facility_share, {resources}
from school_units u
join county_scorecard s using (year, county_code)
where u.year = $year and s.resource_ok is distinct from true
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


def unit_plan(con: duckdb.DuckDBPyConnection, year: int) -> pl.DataFrame:
    """Plan every county of ``year`` whose resource part does not pass; one row per unit and
    indicator the plan changes."""
    columns = [r.column for r in RESOURCES]
    frame = con.sql(_UNITS_SQL.format(resources=", ".join(f"u.{c}" for c in columns)), params={"year": year}).pl()
    settings = _province_settings(con) if frame.height else {}
    facility = np.array([r.facility for r in RESOURCES])
    rows: list[dict] = []
    for (county_code,), county in frame.group_by(["county_code"], maintain_order=True):
        if county.select(pl.any_horizontal(pl.col(columns).is_null()).any()).item():
            continue  # a unit without a value: the county is insufficient_data, not plannable (county_plan says so)
        p = settings[county["province_code"][0]]
        units = CountyUnits(
            school_id=county["school_id"].to_numpy(), level=county["level"].to_numpy(),
            students=county["students"].to_numpy(), share=county["facility_share"].to_numpy(),
            amounts=county.select(columns).to_numpy().astype(float),
            thresholds=p["thresholds"], ceilings=p["ceilings"], floor_share=p["floor_share"],
            allowed_misses=p["allowed_misses"], tolerance=p["tolerance"], prices=p["prices"],
            steps=p["steps"], facility=facility)
        result = plan_county(units)
        names = {c: county[c].to_list() for c in ("province", "province_code", "county_name", "school_name", "unit_kind")}
        x_now = units.amounts / units.students[:, None] * p["per"]
        x_new = (units.amounts + result.received) / units.students[:, None] * p["per"]
        # a facility added to a school is paid once: each section carries its part of the cost
        school_received = {}
        for i, k in zip(*np.nonzero(result.received > 0)):
            school_received[(units.school_id[i], k)] = school_received.get((units.school_id[i], k), 0.0) + result.received[i, k]
        for i, k in zip(*map(list, np.nonzero(result.received > 0))):
            received = float(result.received[i, k])
            if facility[k]:
                paid = result.school_add[i, k] * received / school_received[(units.school_id[i], k)]
            else:
                paid = received
            rows.append({
                "year": year, "province": names["province"][i], "province_code": names["province_code"][i],
                "county_code": county_code, "county_name": names["county_name"][i],
                "school_id": units.school_id[i], "school_name": names["school_name"][i],
                "level": units.level[i], "unit_kind": names["unit_kind"][i], "indicator": RESOURCES[k].indicator,
                "students": int(units.students[i]), "value_now": float(x_now[i, k]),
                "value_planned": float(x_new[i, k]), "add_amount": received, "add_unit": p["add_unit"][k],
                "school_add_amount": float(result.school_add[i, k]), "facility_share": float(units.share[i]),
                "cost_yuan": float(paid * p["yuan"][k]), "cost_kind": p["kind"][k],
                "cost_is_assumption": bool(p["assumption"][k]), "reason": result.reason[i, k],
                "proven_cheapest": result.proven_cheapest, "plan_passes": result.passes,
            })
    return pl.DataFrame(rows, schema=UNIT_PLAN_SCHEMA)


UNIT_PLAN_SCHEMA = {
    "year": pl.Int32, "province": pl.String, "province_code": pl.String, "county_code": pl.String,
    "county_name": pl.String, "school_id": pl.String, "school_name": pl.String, "level": pl.String,
    "unit_kind": pl.String, "indicator": pl.String, "students": pl.Int64, "value_now": pl.Float64,
    "value_planned": pl.Float64, "add_amount": pl.Float64, "add_unit": pl.String,
    "school_add_amount": pl.Float64, "facility_share": pl.Float64, "cost_yuan": pl.Float64,
    "cost_kind": pl.String, "cost_is_assumption": pl.Boolean, "reason": pl.String,
    "proven_cheapest": pl.Boolean, "plan_passes": pl.Boolean,
}
