"""Policy numbers as data: the national default and provincial overrides.

Every threshold, switch and weight of the assessment is read from ``policy/national.toml``;
a file ``policy/provinces/<code>_<name>.toml`` overrides keys for the counties whose
6-digit code starts with that province code. Nothing here holds a policy number itself.

The policy is handed to the SQL models as small tables (``policy_province``,
``policy_level_thresholds``, ``policy_split_weights``) so the SQL joins on them and
carries no literals.
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from junheng.contract import INDICATORS, LEVELS, RESOURCES
from junheng.paths import POLICY_DIR

NATIONAL_RULE = "national"

# a setting named in an item's name: {threshold} (the item's own), {a.b.c} (any setting), and a
# share as a percentage with a trailing %: {resource.school_rule.floor_share%} → 85%
_SETTING_IN_NAME = re.compile(r"\{([A-Za-z0-9_.]+)(%?)\}")


def number_words(value: float) -> str:
    """A number as people write it in a rule: 6, 2000, 0.15, 87.5 (no trailing zeros, no exponent)."""
    value = round(float(value), 9)
    return str(int(value)) if value.is_integer() else f"{value:.9f}".rstrip("0")


def share_words(share: float) -> str:
    """A share as people write it: 0.85 → 85%, 0.875 → 87.5%."""
    return f"{number_words(share * 100)}%"


def item_name(item: str, spec: dict[str, Any], settings: dict[str, Any]) -> str:
    """An item's name with the numbers it states read from the settings in force, so a province
    that changes a threshold or a limit never has to rename the item to match."""
    def setting(match: re.Match) -> str:
        path, as_share = match.groups()
        node: Any = spec if path == "threshold" else settings
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                raise ValueError(f"policy: 项目 {item} 的名称引用了不存在的设置 {{{path}}} / "
                                 f"the name of item {item} refers to {{{path}}}, which is not a setting")
            node = node[key]
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            raise ValueError(f"policy: 项目 {item} 的名称引用的设置 {{{path}}} 不是数值 / "
                             f"the name of item {item} refers to {{{path}}}, which is not a number")
        return share_words(node) if as_share else number_words(node)

    return _SETTING_IN_NAME.sub(setting, spec["name"])


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` laid over it, key by key, at any depth."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class Policy:
    """The national policy plus provincial overrides, keyed by 2-digit province code."""

    national: dict[str, Any]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, policy_dir: Path | str | None = None) -> "Policy":
        root = Path(policy_dir) if policy_dir else POLICY_DIR
        national = tomllib.loads((root / "national.toml").read_text(encoding="utf-8"))
        overrides: dict[str, dict[str, Any]] = {}
        for path in sorted((root / "provinces").glob("*.toml")):
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            code = str(data.get("meta", {}).get("province_code", "")).strip()
            if len(code) != 2 or not code.isdigit():
                raise ValueError(f"{path}: [meta] province_code must be the 2-digit province code")
            overrides[code] = data
        return cls(national=national, overrides=overrides)

    def for_province(self, province_code: str) -> dict[str, Any]:
        """The settings in force for one province (national, with its overrides)."""
        return deep_merge(self.national, self.overrides.get(province_code, {}))

    def rule_for(self, province_code: str, *path: str) -> str:
        """Which rule set a value: 'national' or the province's rule name."""
        override = self.overrides.get(province_code)
        if override is None:
            return NATIONAL_RULE
        node: Any = override
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return NATIONAL_RULE
            node = node[key]
        return str(override.get("meta", {}).get("rule", province_code))

    # ---- tables for the SQL models -------------------------------------------------

    def province_table(self, province_codes: Iterable[str]) -> pl.DataFrame:
        """One row per province: the unit switches and the school rule."""
        rows = []
        for code in sorted(set(province_codes)):
            p = self.for_province(code)
            units, rule, comp = p["units"], p["resource"]["school_rule"], p["resource"]["comparison"]
            rows.append(
                {
                    "province_code": code,
                    "teaching_point_min_students": int(units["teaching_point_min_students"]),
                    "merge_teaching_points_into_parent": bool(units["merge_teaching_points_into_parent"]),
                    "include_private": bool(units["include_private"]),
                    "include_special_education": bool(units["include_special_education"]),
                    "move_indoor_sports_to_sports_area": bool(units["move_indoor_sports_to_sports_area"]),
                    "equipment_value_multiplier": float(units["equipment_value_multiplier"]),
                    "min_indicators_met": int(rule["min_indicators_met"]),
                    "floor_share": float(rule["floor_share"]),
                    "relative_tolerance": float(comp["relative_tolerance"]),
                    "near_threshold_band": float(comp["near_threshold_band"]),
                    "cv_display_decimals": int(comp["cv_display_decimals"]),
                    **{k: v for k, v in p["government"]["school_limits"].items() if k != "combined_types"},
                    "combined_types": list(p["government"]["school_limits"]["combined_types"]),
                    "basic_composite_primary": float(p["basic_balance"]["composite_thresholds"]["primary"]),
                    "basic_composite_junior": float(p["basic_balance"]["composite_thresholds"]["junior"]),
                    "projection_horizon_years": int(p["progress"]["projection_horizon_years"]),
                }
            )
        return pl.DataFrame(rows, schema=_PROVINCE_SCHEMA)

    def item_table(self, province_codes: Iterable[str]) -> pl.DataFrame:
        """One row per province and county item: area, name, input, comparison, threshold, rule."""
        rows = []
        for code in sorted(set(province_codes)):
            settings = self.for_province(code)
            for item, spec in settings["items"].items():
                rows.append(
                    {
                        "province_code": code,
                        "item": item,
                        "area": spec["area"],
                        "item_name": item_name(item, spec, settings),
                        "input": spec["input"],
                        "op": spec["op"],
                        "threshold": float(spec["threshold"]) if "threshold" in spec else None,
                        "unit": spec.get("unit"),
                        "rule": self.rule_for(code, "items", item, "threshold"),
                    }
                )
        return pl.DataFrame(rows, schema=_ITEM_SCHEMA)

    def level_threshold_table(self, province_codes: Iterable[str]) -> pl.DataFrame:
        """One row per province, level and indicator: the indicator threshold and CV ceiling."""
        rows = []
        for code in sorted(set(province_codes)):
            p = self.for_province(code)
            for level in LEVELS:
                cv_threshold = float(p["resource"]["cv_thresholds"][level])
                cv_rule = self.rule_for(code, "resource", "cv_thresholds", level)
                for ind in INDICATORS:
                    rows.append(
                        {
                            "province_code": code,
                            "level": level,
                            "indicator": ind.code,
                            "threshold": float(p["resource"]["thresholds"][level][ind.code]),
                            "threshold_rule": self.rule_for(code, "resource", "thresholds", level, ind.code),
                            "cv_threshold": cv_threshold,
                            "cv_threshold_rule": cv_rule,
                        }
                    )
        return pl.DataFrame(rows, schema=_THRESHOLD_SCHEMA)

    def split_weight_table(self, province_codes: Iterable[str]) -> pl.DataFrame:
        """One row per province and school type: facility split weights per level."""
        rows = []
        for code in sorted(set(province_codes)):
            weights = self.for_province(code)["units"]["split_weights"]
            for school_type, w in weights.items():
                rows.append(
                    {
                        "province_code": code,
                        "school_type": school_type,
                        "weight_primary": float(w.get("primary", 0.0)),
                        "weight_junior": float(w.get("junior", 0.0)),
                        "weight_senior": float(w.get("senior", 0.0)),
                    }
                )
        return pl.DataFrame(rows, schema=_WEIGHT_SCHEMA)

    def plan_cost_table(self, province_codes: Iterable[str]) -> pl.DataFrame:
        """One row per province and indicator: what the plan adds to raise it, the step it rounds
        to, and its unit cost (yuan, capital or recurring, source, whether it is an assumption)."""
        rows = []
        for code in sorted(set(province_codes)):
            plan = self.for_province(code)["plan"]
            for res in RESOURCES:
                spec = plan["indicators"][res.indicator]
                cost = plan["costs"][spec["cost"]]
                if cost["kind"] not in ("capital", "recurring_per_year"):
                    raise ValueError(f"plan.costs.{spec['cost']}.kind must be capital or recurring_per_year")
                rows.append({
                    "province_code": code, "indicator": res.indicator, "resource": res.column,
                    "per": res.per, "add_unit_zh": res.unit_zh, "add_unit": res.unit_en,
                    "whole_at": res.whole_at, "facility": res.facility, "step": float(spec["step"]),
                    "cost_key": spec["cost"], "cost_name": cost["name"], "yuan_per_unit": float(cost["yuan"]),
                    "cost_kind": cost["kind"], "cost_source": cost["source"],
                    "cost_assumption": bool(cost["assumption"]),
                    "cost_rule": self.rule_for(code, "plan", "costs", spec["cost"], "yuan"),
                    "recurring_years_for_choice": float(plan["recurring_years_for_choice"]),
                })
        return pl.DataFrame(rows, schema=_PLAN_COST_SCHEMA)


_PLAN_COST_SCHEMA = {
    "province_code": pl.String, "indicator": pl.String, "resource": pl.String, "per": pl.Float64,
    "add_unit_zh": pl.String, "add_unit": pl.String, "whole_at": pl.String, "facility": pl.Boolean,
    "step": pl.Float64, "cost_key": pl.String, "cost_name": pl.String, "yuan_per_unit": pl.Float64,
    "cost_kind": pl.String, "cost_source": pl.String, "cost_assumption": pl.Boolean, "cost_rule": pl.String,
    "recurring_years_for_choice": pl.Float64,
}

_PROVINCE_SCHEMA = {
    "province_code": pl.String,
    "teaching_point_min_students": pl.Int64,
    "merge_teaching_points_into_parent": pl.Boolean,
    "include_private": pl.Boolean,
    "include_special_education": pl.Boolean,
    "move_indoor_sports_to_sports_area": pl.Boolean,
    "equipment_value_multiplier": pl.Float64,
    "min_indicators_met": pl.Int64,
    "floor_share": pl.Float64,
    "relative_tolerance": pl.Float64,
    "near_threshold_band": pl.Float64,
    "cv_display_decimals": pl.Int64,
    "max_school_students": pl.Int64,
    "max_combined_school_students": pl.Int64,
    "max_class_primary": pl.Int64,
    "max_class_junior": pl.Int64,
    "classes_per_special_room": pl.Int64,
    "min_music_room_m2": pl.Float64,
    "min_art_room_m2": pl.Float64,
    "combined_types": pl.List(pl.String),
    "basic_composite_primary": pl.Float64,
    "basic_composite_junior": pl.Float64,
    "projection_horizon_years": pl.Int64,
}
_ITEM_SCHEMA = {
    "province_code": pl.String,
    "item": pl.String,
    "area": pl.String,
    "item_name": pl.String,
    "input": pl.String,
    "op": pl.String,
    "threshold": pl.Float64,
    "unit": pl.String,
    "rule": pl.String,
}
_THRESHOLD_SCHEMA = {
    "province_code": pl.String,
    "level": pl.String,
    "indicator": pl.String,
    "threshold": pl.Float64,
    "threshold_rule": pl.String,
    "cv_threshold": pl.Float64,
    "cv_threshold_rule": pl.String,
}
_WEIGHT_SCHEMA = {
    "province_code": pl.String,
    "school_type": pl.String,
    "weight_primary": pl.Float64,
    "weight_junior": pl.Float64,
    "weight_senior": pl.Float64,
}


@dataclass(frozen=True)
class InputChecks:
    """What staging checks beyond the contract's types: plausibility limits per student, the
    stray-year share, percent cells typed as fractions, and the province-level codes
    (``policy/plausibility.toml`` and ``policy/regions.toml``)."""

    per_student: dict[str, dict[str, Any]]
    stray_year_share: float
    detect_percent_fractions: bool
    provinces: dict[str, tuple[str, str]]  # code → (name, short name)

    @classmethod
    def load(cls, policy_dir: Path | str | None = None) -> "InputChecks":
        root = Path(policy_dir) if policy_dir else POLICY_DIR
        plaus = tomllib.loads((root / "plausibility.toml").read_text(encoding="utf-8"))
        regions = tomllib.loads((root / "regions.toml").read_text(encoding="utf-8"))
        return cls(
            per_student=plaus["per_student"],
            stray_year_share=float(plaus["stray_year"]["max_share_of_main_year"]),
            detect_percent_fractions=bool(plaus["percent_columns"]["detect_fractions"]),
            provinces={code: (p["name"], p["short"]) for code, p in regions["province"].items()},
        )
